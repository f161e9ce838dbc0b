#!/usr/bin/env python
# -*- coding: ascii -*-
"""jewel-retouch for GIMP 2.10 (Python-Fu): Filters > Jewelry > Retouch...

PDB procedure `python-fu-jewel-retouch`, the same behaviour as the GIMP 3 plug-in: the
selected layer's pixels inside the selection's bounding box go raw to the local
jewel-retouch server, the result comes back as a new layer directly above the original, in
one undo group. The original layer is never modified.

GIMP 2.10's Python-Fu reads pixels through 8-bit pixel regions only, so images of higher
precision are retouched at 8 bits (the plug-in says so); use GIMP 3 for full 16-bit work.

Written in the common subset of Python 2.7 and 3, standard library only, ASCII only.
Install: `jewel-retouch install gimp --gimp 2.10`.
"""

from __future__ import absolute_import, division, print_function

import os
import sys
import time

from gimpfu import (
    ADD_BLACK_MASK,
    ADD_SELECTION_MASK,
    INDEXED,
    MASK_APPLY,
    NORMAL_MODE,
    PF_DRAWABLE,
    PF_FLOAT,
    PF_IMAGE,
    PF_INT,
    PF_OPTION,
    PF_STRING,
    PF_TOGGLE,
    RGB,
    RGBA_IMAGE,
    gimp,
    main,
    pdb,
    register,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jewel_retouch_client as jrc  # noqa: E402

OUTPUTS = ["layer", "layers"]
EIGHT_BIT_PRECISIONS = (100, 150)  # GIMP_PRECISION_U8_LINEAR, GIMP_PRECISION_U8_GAMMA


def params_for_options(options):
    """gimpfu parameters for the options (enums become PF_OPTION indices)."""
    params = []
    for spec in options:
        name, label, kind = spec["name"], spec.get("label") or spec["name"], spec["type"]
        if kind == "enum":
            index = spec["choices"].index(spec["default"])
            params.append((PF_OPTION, name, label, index, list(spec["choices"])))
        elif kind == "boolean":
            params.append((PF_TOGGLE, name, label, bool(spec["default"])))
        elif kind == "integer":
            params.append((PF_INT, name, label, int(spec["default"])))
        elif kind == "list":  # names separated by commas (jrc.coerce_option splits them)
            params.append((PF_STRING, name, label, ", ".join(spec.get("default") or [])))
        else:
            params.append((PF_FLOAT, name, label, float(spec["default"])))
    return params


def option_values(args):
    """Map the procedure's option arguments (in BUILTIN_OPTIONS order) to option values."""
    values = {}
    for spec, value in zip(jrc.BUILTIN_OPTIONS, args):
        if spec["type"] == "enum":
            choices = spec["choices"]
            if isinstance(value, int) and 0 <= value < len(choices):
                value = choices[value]
        values[spec["name"]] = value
    return values


def rgb_to_rgba(data, pixel_count):
    """RGB bytes -> RGBA bytes with opaque alpha (C-speed extended slices, no pixel loop)."""
    out = bytearray(b"\xff" * (pixel_count * 4))
    out[0::4] = data[0::3]
    out[1::4] = data[1::3]
    out[2::4] = data[2::3]
    return bytes(out)


def check_drawable(image, drawable):
    if drawable is None:
        raise jrc.RetouchError("bad_selection", "Select one layer in the Layers dialog first.")
    if image.base_type == INDEXED:
        raise jrc.RetouchError(
            "indexed",
            "Indexed-colour images cannot be retouched: convert the image with "
            "Image > Mode > RGB, then run the retouch again.",
        )
    if image.base_type != RGB:  # GIMP 2.10's Python-Fu has no colour conversion
        raise jrc.RetouchError(
            "grey",
            "Greyscale images cannot be retouched in GIMP 2.10: convert the image "
            "with Image > Mode > RGB (or use GIMP 3), then run the retouch again.",
        )
    if pdb.gimp_item_is_layer_mask(drawable) or pdb.gimp_item_is_channel(drawable):
        raise jrc.RetouchError(
            "not_layer",
            "A mask or channel is active: click the layer's thumbnail (not its "
            "mask) in the Layers dialog, then run the retouch again.",
        )
    if pdb.gimp_item_is_group(drawable):
        raise jrc.RetouchError(
            "group",
            "A layer group is selected: select one layer inside it, then run the retouch again.",
        )


def selection_region(image, drawable):
    """(x, y, width, height) in the drawable's coordinates, and whether it is a plain box."""
    non_empty, x, y, width, height = pdb.gimp_drawable_mask_intersect(drawable)
    if not non_empty or width <= 0 or height <= 0:
        raise jrc.RetouchError(
            "empty_selection",
            "The selection does not touch this layer: select part of the "
            "layer (or Select > None for the whole layer) and run the retouch again.",
        )
    if pdb.gimp_selection_is_empty(image):
        return (x, y, width, height), True
    off_x, off_y = drawable.offsets
    selection = image.selection
    region = selection.get_pixel_rgn(off_x + x, off_y + y, width, height, False, False)
    mask = region[off_x + x : off_x + x + width, off_y + y : off_y + y + height]
    return (x, y, width, height), mask.count(b"\xff") == len(mask)


def write_layer(layer, width, height, data):
    region = layer.get_pixel_rgn(0, 0, width, height, True, False)
    region[0:width, 0:height] = data
    layer.flush()
    layer.update(0, 0, width, height)


def layer_pixels(descriptor, data):
    """(width, height, RGBA bytes) of one part of the answer (RGB gets opaque alpha)."""
    width, height = int(descriptor["width"]), int(descriptor["height"])
    if int(descriptor["channels"]) == 3:
        data = rgb_to_rgba(data, width * height)
    return width, height, data


class Gimp2Host(object):
    """Executes a paste plan (jrc.paste_plan) in GIMP 2.10: the plan says what, this says how."""

    def __init__(self, image, drawable):
        self.image = image
        self.parent = pdb.gimp_item_get_parent(drawable)
        self.source = drawable

    def undo_start(self):
        pdb.gimp_image_undo_group_start(self.image)

    def undo_end(self):
        pdb.gimp_image_undo_group_end(self.image)

    def create(self, step):
        image = self.image
        if step.op == "group":
            group = pdb.gimp_layer_group_new(image)
            group.name = step.name
            return group
        if step.op == "channel":
            jrc.check_part_size(step.part[0], step.part[1], channels=1)
            return gimp.Channel(image, step.name, image.width, image.height, 50.0, (0, 0, 0))
        descriptor, data = step.part
        jrc.check_part_size(descriptor, data)  # before anything is added to the image
        width, height = int(descriptor["width"]), int(descriptor["height"])
        return gimp.Layer(image, step.name, width, height, RGBA_IMAGE, 100.0, NORMAL_MODE)

    def insert(self, step, item, parent):
        if step.op == "channel":
            pdb.gimp_image_insert_channel(self.image, item, None, 0)
        elif parent is None:  # directly above the source, in the source's own group
            # The source's position now: earlier steps may have put items above it.
            position = pdb.gimp_image_get_item_position(self.image, self.source)
            pdb.gimp_image_insert_layer(self.image, item, self.parent, position)
        else:
            pdb.gimp_image_insert_layer(self.image, item, parent, 0)

    def fill(self, step, item):
        if step.op == "layer":
            item.set_offsets(step.x, step.y)
            write_layer(item, *layer_pixels(*step.part))
        elif step.op == "channel":
            item.visible = False
            descriptor, data = step.part
            width, height = int(descriptor["width"]), int(descriptor["height"])
            write_clipped(item, self.image, step.x, step.y, width, height, data)

    def change(self, step, target):
        if step.op == "layer_mask":
            descriptor, data = step.part
            jrc.check_part_size(descriptor, data, channels=1)
            mask = target.create_mask(ADD_BLACK_MASK)
            target.add_mask(mask)
            write_layer(mask, int(descriptor["width"]), int(descriptor["height"]), data)
        elif step.op == "selection_to_alpha":
            target.add_mask(target.create_mask(ADD_SELECTION_MASK))
            target.remove_mask(MASK_APPLY)
        elif step.op == "selection_mask":
            target.add_mask(target.create_mask(ADD_SELECTION_MASK))

    def remove(self, item):
        try:
            if pdb.gimp_item_is_channel(item):
                pdb.gimp_image_remove_channel(self.image, item)
            else:  # a layer or group anywhere in the tree (its children go with it)
                pdb.gimp_image_remove_layer(self.image, item)
        except RuntimeError:  # gimp.error: it never got into the image
            pdb.gimp_item_delete(item)


def insert_result(image, drawable, region, result, output, rectangular):
    """Insert the answer above `drawable` (the shared paste plan, run by Gimp2Host); returns
    the new top item. On failure, what was added is removed again."""
    off_x, off_y = drawable.offsets
    steps = jrc.paste_plan(result, output, off_x + region[0], off_y + region[1], rectangular)
    return jrc.run_paste_plan(steps, Gimp2Host(image, drawable))


def write_clipped(channel, image, x, y, width, height, data):
    """Write a width x height 1-byte mask at (x, y) into an image-sized channel, clipped."""
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + width, image.width), min(y + height, image.height)
    if x1 <= x0 or y1 <= y0:
        return
    rows = []
    for row in range(y0 - y, y1 - y):
        start = row * width + (x0 - x)
        rows.append(data[start : start + (x1 - x0)])
    region = channel.get_pixel_rgn(x0, y0, x1 - x0, y1 - y0, True, False)
    region[x0:x1, y0:y1] = b"".join(rows)
    channel.flush()
    channel.update(x0, y0, x1 - x0, y1 - y0)


def progress_callback():
    """The client's progress callback: the bar, and a text naming the stage (with the seconds
    spent in it while the server works without a word)."""
    state = {"stage": None, "since": 0.0, "text": None}

    def progress(stage, fraction):
        if stage != state["stage"]:
            state["stage"], state["since"] = stage, time.time()
        text = jrc.progress_text(stage, time.time() - state["since"])
        if text != state["text"]:
            state["text"] = text
            pdb.gimp_progress_set_text(text)
        gimp.progress_update(max(0.0, min(1.0, fraction)))
        return True

    return progress


def retouch(image, drawable, args):
    """The whole run: raises RetouchError / Cancelled, returns the new top item."""
    option_args = args[: len(jrc.BUILTIN_OPTIONS)]
    output_index, server_url, timeout = args[len(jrc.BUILTIN_OPTIONS) :]
    output = OUTPUTS[output_index] if isinstance(output_index, int) else str(output_index)
    check_drawable(image, drawable)
    client = jrc.Client(server_url or None, timeout=float(timeout))
    info = client.info(timeout=min(10.0, client.timeout))
    schema = info.get("options") or jrc.BUILTIN_OPTIONS
    options = jrc.options_from_values(schema, option_values(option_args))
    region, rectangular = selection_region(image, drawable)
    x, y, width, height = region
    # Pixel regions are 8-bit in GIMP 2.10's Python-Fu, whatever the image precision.
    bpp = drawable.bpp
    source = drawable.get_pixel_rgn(x, y, width, height, False, False)
    pixels = source[x : x + width, y : y + height]
    channels = bpp
    if bpp == 3 and options.get("background") == "transparent":
        pixels, channels = rgb_to_rgba(pixels, width * height), 4
    gimp.progress_init("Jewel retouch")
    request = jrc.RetouchRequest(
        pixels,
        width,
        height,
        channels,
        8,
        options=options,
        layers=(output == "layers"),
        progress=progress_callback(),
        info=info,
    )
    result = client.retouch(request)
    top = insert_result(image, drawable, region, result, output, rectangular)
    gimp.displays_flush()
    if pdb.gimp_image_get_precision(image) not in EIGHT_BIT_PRECISIONS:
        gimp.message(
            "Note: GIMP 2.10's Python-Fu reads 8 bits per channel, so this image was retouched "
            "at 8 bits. Use GIMP 3 to retouch at full 16-bit depth."
        )
    note = jrc.warnings_text(result.warnings)
    if note:  # after the paste: the result is there, the user learns what to check in it
        gimp.message(note)
    return top


def jewel_retouch(image, drawable, *args):
    try:
        retouch(image, drawable, list(args))
    except jrc.Cancelled:
        pass
    except jrc.RetouchError as error:
        gimp.message(error.message)
    finally:
        pdb.gimp_progress_end()


register(
    "python_fu_jewel_retouch",
    "Retouch jewelry with the local jewel-retouch server",
    "Sends the selected layer (the selection's bounding box) to the jewel-retouch server and "
    "inserts the retouched result as a new layer above it. Start the server with "
    "`jewel-retouch serve`.",
    "jewel-retouch contributors",
    "jewel-retouch contributors",
    "2026",
    "Retouch...",
    "RGB*, GRAY*, INDEXED*",
    [(PF_IMAGE, "image", "Input image", None), (PF_DRAWABLE, "drawable", "Input layer", None)]
    + params_for_options(jrc.BUILTIN_OPTIONS)
    + [
        (PF_OPTION, "output", "Output", 0, ["One retouched layer", "Separable layers (group)"]),
        (PF_STRING, "server_url", "Server URL", jrc.DEFAULT_SERVER_URL),
        (PF_FLOAT, "timeout", "Timeout (s)", 600.0),
    ],
    [],
    jewel_retouch,
    menu="<Image>/Filters/Jewelry",
)

main()
