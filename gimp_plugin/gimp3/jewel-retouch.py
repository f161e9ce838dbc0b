#!/usr/bin/env python3
# -*- coding: ascii -*-
"""jewel-retouch for GIMP 3: Filters > Jewelry > Retouch...

PDB procedure `python-fu-jewel-retouch`. Sends the selected layer's pixels (inside the
selection's bounding box) raw to the local jewel-retouch server and inserts the result as a
new layer directly above it, in one undo group. The original layer is never modified.

Install: `jewel-retouch install gimp` (copies this file and jewel_retouch_client.py into
<GIMP profile>/plug-ins/jewel-retouch/). Standard library + GObject introspection only.
"""

import json
import os
import sys
import time

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
from gi.repository import Babl, Gegl, Gimp, GLib, GObject  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
for folder in (HERE, os.path.dirname(HERE)):  # installed copy, or the repository layout
    if os.path.exists(os.path.join(folder, "jewel_retouch_client.py")):
        sys.path.insert(0, folder)
        break
import jewel_retouch_client as jrc  # noqa: E402

PROC_NAME = "python-fu-jewel-retouch"
OUTPUTS = (("layer", "One retouched layer"), ("layers", "Separable layers and masks (group)"))
RESULT_LAYER_NAME = jrc.RESULT_LAYER_NAME
TIMINGS_ENV = "JEWEL_RETOUCH_TIMINGS"  # a file path: the plug-in writes its phase times there
# A file path: each progress text the plug-in shows is appended there as one line (what GIMP's
# progress bar said, for tests and for bug reports; batch GIMP has no bar to look at).
PROGRESS_LOG_ENV = "JEWEL_RETOUCH_PROGRESS_LOG"
# A JSON file {"report": PATH, "set": {PROPERTY: TEXT}, "response": "ok" | "cancel"}: instead of
# waiting for a click, the dialog is shown, described into PATH (labels, fields, whether each
# field's text fits), edited as "set" says and answered. Lets the tests drive the real dialog.
DIALOG_SCRIPT_ENV = "JEWEL_RETOUCH_DIALOG_SCRIPT"


# Access keys the procedure dialog itself takes: _Reset, _Cancel, _OK, _Load Settings,
# _Save Settings.
RESERVED_MNEMONICS = "rcols"


# Labels of the GIMP dialog that differ from the schema's: every label needs an access key of
# its own and the letters ran out (only 16 letters appear in the labels, reserved ones aside),
# so these carry a rare letter (k, y, x).
GIMP_LABELS = {
    "finish": "Finish look",
    "reflection": "Reflection (glossy)",
    "metal_variants": "Metal variants (extra copy)",
}


def with_mnemonics(labels):
    """Each label with its own access key ("_Background"). GIMP's dialog prints "no mnemonic
    for property" on stderr for a label without one, and letters must not repeat, so the
    letters are matched to the labels (augmenting paths) rather than taken first come."""
    options = []
    for label in labels:
        letters = []
        for char in label.lower():
            if char.isalnum() and char not in RESERVED_MNEMONICS and char not in letters:
                letters.append(char)
        options.append(letters)
    owner = {}  # letter -> index of the label using it

    def assign(index, seen):
        for letter in options[index]:
            if letter in seen:
                continue
            seen.add(letter)
            if letter not in owner or assign(owner[letter], seen):
                owner[letter] = index
                return True
        return False

    for index in range(len(labels)):
        assign(index, set())
    chosen = dict((index, letter) for letter, index in owner.items())
    out = []
    for index, label in enumerate(labels):
        letter = chosen.get(index)
        if letter is None:
            out.append(label)  # more labels than letters: this one goes without
            continue
        position = label.lower().index(letter)
        out.append(label[:position] + "_" + label[position:])
    return out


def argument_labels():
    """Dialog label per argument name, with access keys, for every argument registered."""
    names = [arg_name(spec["name"]) for spec in jrc.BUILTIN_OPTIONS]
    names += ["output", "server-url", "timeout"]
    plain = [
        GIMP_LABELS.get(spec["name"]) or spec.get("label") or spec["name"]
        for spec in jrc.BUILTIN_OPTIONS
    ]
    plain += ["Output", "Server URL", "Timeout (s)"]
    return dict(zip(names, with_mnemonics(plain)))


def arg_name(option_name):
    """PDB argument name of a server option (PDB names use dashes)."""
    return option_name.replace("_", "-")


def add_option_argument(procedure, spec, label=None):
    """One procedure argument for one option of the schema (none for a type it does not
    know: the server then applies that option's default)."""
    name = arg_name(spec["name"])
    label = label or spec.get("label") or spec["name"]
    blurb = spec.get("description", "")
    flags = GObject.ParamFlags.READWRITE
    kind = spec.get("type")
    if kind not in jrc.KNOWN_OPTION_TYPES:
        return
    if kind == "enum":
        choice = Gimp.Choice.new()
        for index, value in enumerate(spec["choices"]):
            choice.add(value, index, value.replace("_", " ").capitalize(), "")
        procedure.add_choice_argument(name, label, blurb, choice, spec["default"], flags)
    elif kind == "boolean":
        procedure.add_boolean_argument(name, label, blurb, bool(spec["default"]), flags)
    elif kind == "list":  # a text field: names separated by commas
        blurb += " Comma-separated, from: %s." % ", ".join(spec.get("choices") or [])
        default = ", ".join(spec.get("default") or [])
        procedure.add_string_argument(name, label, blurb, default, flags)
    elif kind == "integer":
        procedure.add_int_argument(
            name,
            label,
            blurb,
            int(spec["minimum"]),
            int(spec["maximum"]),
            int(spec["default"]),
            flags,
        )
    else:
        procedure.add_double_argument(
            name,
            label,
            blurb,
            float(spec["minimum"]),
            float(spec["maximum"]),
            float(spec["default"]),
            flags,
        )


class Region(object):
    """Where the pixels come from: a box in the drawable's own coordinates."""

    def __init__(self, x, y, width, height):
        self.x, self.y, self.width, self.height = x, y, width, height


def wire_layout(image, drawable, options):
    """(channels, depth, babl format name) to send this drawable's pixels in."""
    precision = image.get_precision().value_nick  # e.g. "u8-non-linear", "float-linear"
    depth = 8 if precision.startswith("u8") else 16
    # Send alpha when the layer has it, or when the user asked for a transparent backdrop.
    alpha = drawable.has_alpha() or options.get("background") == "transparent"
    channels = 4 if alpha else 3
    name = ("R'G'B'A" if alpha else "R'G'B'") + (" u8" if depth == 8 else " u16")
    return channels, depth, name


def to_little_endian(data, depth):
    """The wire's 16-bit samples are little-endian; babl gives native order."""
    if depth == 16 and sys.byteorder == "big":
        import array

        samples = array.array("H", data)
        samples.byteswap()
        return samples.tobytes()
    return data


def check_drawable(image, drawables):
    """The one layer to work on, or a RetouchError saying what to select."""
    if len(drawables) != 1:
        raise jrc.RetouchError(
            "bad_selection",
            "Select exactly one layer in the Layers dialog, then run "
            "Filters > Jewelry > Retouch again (%d are selected)." % len(drawables),
        )
    drawable = drawables[0]
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        raise jrc.RetouchError(
            "indexed",
            "Indexed-colour images cannot be retouched: convert the image with "
            "Image > Mode > RGB, then run the retouch again.",
        )
    if drawable.is_layer_mask() or drawable.is_channel():
        raise jrc.RetouchError(
            "not_layer",
            "A mask or channel is active: click the layer's thumbnail (not its "
            "mask) in the Layers dialog, then run the retouch again.",
        )
    if drawable.is_group_layer():
        raise jrc.RetouchError(
            "group",
            "A layer group is selected: select one layer inside it (or merge the "
            "group first), then run the retouch again.",
        )
    return drawable


def selection_region(image, drawable):
    """The selection's bounding box clipped to the layer, plus whether the selection is a
    plain rectangle covering it (then no masking is needed)."""
    non_empty, x, y, width, height = drawable.mask_intersect()
    if not non_empty or width <= 0 or height <= 0:
        raise jrc.RetouchError(
            "empty_selection",
            "The selection does not touch this layer: select part of the "
            "layer (or Select > None for the whole layer) and run the retouch again.",
        )
    region = Region(x, y, width, height)
    if Gimp.Selection.is_empty(image):
        return region, True
    _, off_x, off_y = drawable.get_offsets()
    box = Gegl.Rectangle.new(off_x + x, off_y + y, width, height)
    mask = image.get_selection().get_buffer().get(box, 1.0, "Y u8", Gegl.AbyssPolicy.NONE)
    return region, mask.count(b"\xff") == len(mask)


def read_pixels(drawable, region, format_name, channels, depth):
    """The region's pixels as ChunkedPixels: strips of about one WebSocket frame, read from
    GIMP only as the client sends them (the server works while GIMP reads the next strip)."""
    row_bytes = region.width * channels * depth // 8
    rows_per_strip = max(1, jrc.WS_CHUNK // row_bytes)
    buffer = drawable.get_buffer()

    def strips():
        bottom = region.y + region.height
        for top in range(region.y, bottom, rows_per_strip):
            rows = min(rows_per_strip, bottom - top)
            box = Gegl.Rectangle.new(region.x, top, region.width, rows)
            data = buffer.get(box, 1.0, format_name, Gegl.AbyssPolicy.NONE)
            yield to_little_endian(bytes(data), depth)

    return jrc.ChunkedPixels(row_bytes * region.height, strips())


class LayerWriter(object):
    """Part sink: writes the answer into a new (not yet inserted) layer as frames arrive."""

    def __init__(self, image, name, descriptor):
        self.layer = create_layer(image, name, descriptor)
        self.width, self.height = int(descriptor["width"]), int(descriptor["height"])
        self.depth = int(descriptor["depth"])
        self.format = rgb_format(int(descriptor["channels"]), self.depth)
        self.row_bytes = self.width * int(descriptor["channels"]) * self.depth // 8
        self.buffer = self.layer.get_buffer()
        self.pending = bytearray()
        self.row = 0

    def write(self, data):
        self.pending += data
        rows = min(len(self.pending) // self.row_bytes, self.height - self.row)
        if rows:
            size = rows * self.row_bytes
            box = Gegl.Rectangle.new(0, self.row, self.width, rows)
            self.buffer.set(
                box, self.format, to_little_endian(bytes(self.pending[:size]), self.depth)
            )
            del self.pending[:size]
            self.row += rows

    def finish(self):
        if self.row != self.height or self.pending:
            raise jrc.RetouchError("bad_response", "The server's answer has the wrong size.")
        self.buffer.flush()
        return self.layer

    def discard(self):
        delete_if_loose(self.layer)
        self.layer = None


def is_attached(image, layer):
    """Whether `layer` is in `image`'s layer tree (inside a group, or at the top level)."""
    return layer.get_parent() is not None or layer.get_id() in [
        item.get_id() for item in image.get_layers()
    ]


def delete_if_loose(layer):
    """Delete a layer made for the answer that never got into the image (an error came)."""
    if layer is None or not layer.is_valid():
        return
    image = layer.get_image()
    if image is None or not is_attached(image, layer):
        layer.delete()


def write_pixels(drawable, width, height, format_name, data, depth):
    buffer = drawable.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, width, height), format_name, to_little_endian(data, depth))
    buffer.flush()
    drawable.update(0, 0, width, height)


def rgb_format(channels, depth):
    return ("R'G'B'A" if channels == 4 else "R'G'B'") + (" u8" if depth == 8 else " u16")


def mask_format(drawable):
    """Write 8-bit masks in the mask's own tone curve, so 255 stays 255 and 128 stays 128."""
    return "Y' u8" if Babl.get_name(drawable.get_format()).startswith("Y'") else "Y u8"


def create_layer(image, name, descriptor):
    """An empty layer for one part of the answer, of the answer's layout."""
    width, height = int(descriptor["width"]), int(descriptor["height"])
    grey = image.get_base_type() == Gimp.ImageBaseType.GRAY
    alpha = int(descriptor["channels"]) == 4
    # Same layout as the answer: writing then is a plain copy (no conversion to add alpha).
    if grey:
        kind = Gimp.ImageType.GRAYA_IMAGE if alpha else Gimp.ImageType.GRAY_IMAGE
    else:
        kind = Gimp.ImageType.RGBA_IMAGE if alpha else Gimp.ImageType.RGB_IMAGE
    return Gimp.Layer.new(image, name, width, height, kind, 100.0, Gimp.LayerMode.NORMAL)


def new_layer(image, name, descriptor, data):
    """A layer holding one part of the answer (`data`: its bytes, or a LayerWriter's layer)."""
    if isinstance(data, Gimp.Layer):
        data.set_name(name)
        return data
    jrc.check_part_size(descriptor, data)
    layer = create_layer(image, name, descriptor)
    width, height = int(descriptor["width"]), int(descriptor["height"])
    depth = int(descriptor["depth"])
    try:
        write_pixels(
            layer, width, height, rgb_format(int(descriptor["channels"]), depth), data, depth
        )
    except Exception:
        layer.delete()
        raise
    return layer


class Gimp3Host(object):
    """Executes a paste plan (jrc.paste_plan) in GIMP 3: the plan says what, this says how."""

    def __init__(self, image, drawable):
        self.image = image
        self.source = drawable
        self.parent = drawable.get_parent()  # None: the image's top level

    def undo_start(self):
        self.image.undo_group_start()

    def undo_end(self):
        self.image.undo_group_end()

    def create(self, step):
        if step.op == "group":
            return Gimp.GroupLayer.new(self.image, step.name)
        if step.op == "channel":
            jrc.check_part_size(step.part[0], step.part[1], channels=1)
            image = self.image
            width, height = image.get_width(), image.get_height()
            black = Gegl.Color.new("black")
            return Gimp.Channel.new(image, step.name, width, height, 50.0, black)
        descriptor, data = step.part
        return new_layer(self.image, step.name, descriptor, data)

    def insert(self, step, item, parent):
        if step.op == "channel":
            self.image.insert_channel(item, None, 0)
        elif parent is None:  # directly above the source, in the source's own group
            # The source's position now: earlier steps may have put items above it.
            position = self.image.get_item_position(self.source)
            self.image.insert_layer(item, self.parent, position)
        else:
            self.image.insert_layer(item, parent, 0)

    def fill(self, step, item):
        if step.op == "layer":
            item.set_offsets(step.x, step.y)
        elif step.op == "channel":
            item.set_visible(False)
            descriptor, data = step.part
            width, height = int(descriptor["width"]), int(descriptor["height"])
            buffer = item.get_buffer()
            box = Gegl.Rectangle.new(step.x, step.y, width, height)
            buffer.set(box, mask_format(item), data)
            buffer.flush()

    def change(self, step, target):
        if step.op == "layer_mask":
            descriptor, data = step.part
            jrc.check_part_size(descriptor, data, channels=1)
            mask = target.create_mask(Gimp.AddMaskType.BLACK)
            target.add_mask(mask)
            width, height = int(descriptor["width"]), int(descriptor["height"])
            write_pixels(mask, width, height, mask_format(mask), data, 8)
        elif step.op == "selection_to_alpha":
            if not target.has_alpha():
                target.add_alpha()
            target.add_mask(target.create_mask(Gimp.AddMaskType.SELECTION))
            target.remove_mask(Gimp.MaskApplyMode.APPLY)
        elif step.op == "selection_mask":
            target.add_mask(target.create_mask(Gimp.AddMaskType.SELECTION))

    def remove(self, item):
        if not item.is_valid():
            return
        image = self.image
        if item.is_channel():
            if item.get_id() in [channel.get_id() for channel in image.get_channels()]:
                image.remove_channel(item)
            else:
                item.delete()
        elif is_attached(image, item):  # a layer or group anywhere in the tree
            image.remove_layer(item)  # (its children go with it)
        else:
            item.delete()


def insert_result(image, drawable, region, result, output, rectangular):
    """Insert the answer above `drawable` (the shared paste plan, run by Gimp3Host); returns
    the new top item. Removes what it added when anything fails."""
    _, off_x, off_y = drawable.get_offsets()
    steps = jrc.paste_plan(result, output, off_x + region.x, off_y + region.y, rectangular)
    return jrc.run_paste_plan(steps, Gimp3Host(image, drawable))


def values_from_config(config, schema):
    values = {}
    for spec in schema:
        name = arg_name(spec["name"])
        if config.find_property(name) is not None:
            values[spec["name"]] = config.get_property(name)
    return values


def dialog_option_names(procedure, schema):
    """The procedure arguments the dialog shows for `schema`, in its order."""
    names = []
    for spec in schema:
        name = arg_name(spec["name"])
        if spec.get("type") in jrc.KNOWN_OPTION_TYPES and procedure.find_argument(name):
            names.append(name)
    return names


def show_dialog(procedure, config, schema, note=None):
    """The options dialog for `schema` (the server's, or the built-in one when the server did
    not answer; `note` then says so on top). GIMP remembers the values. True on OK."""
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import GimpUi

    GimpUi.init(PROC_NAME)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Jewel retouch")
    names = []
    if note:
        label = dialog.get_label("server-note", note, False, False)
        label.set_line_wrap(True)
        label.set_max_width_chars(60)
        label.set_xalign(0.0)
        names.append("server-note")
    specs = dict((arg_name(spec["name"]), spec) for spec in schema)
    options = dialog_option_names(procedure, schema)
    for name in options:
        if specs[name]["type"] == "number":
            # A spin scale, not GIMP's default scale entry: that one, for a range under 1
            # (the margin's 0..0.45), prints a LibGimpWidgets-CRITICAL about its increments.
            fit_number(dialog.get_spin_scale(name, 1.0), specs[name])
    names.extend(options)
    names.extend(["output", "server-url", "timeout"])
    dialog.fill(names)
    script = os.environ.get(DIALOG_SCRIPT_ENV)
    try:
        accepted = scripted_run(dialog, names, script) if script else dialog.run()
    finally:
        dialog.destroy()
    return accepted


def fit_number(widget, spec):
    """Digits and width from the option's own values: GIMP's estimate shows a 0..0.45 range
    with 4 digits in a field 5 characters wide, which cuts the margin off (jrc.number_display)."""
    from gi.repository import Gtk

    digits, width = jrc.number_display(spec)
    spin = widget.get_spin_button() if hasattr(widget, "get_spin_button") else widget
    if hasattr(widget, "set_digits") and widget is not spin:
        widget.set_digits(digits)  # a GimpLabelSpin: its own digits drive its spin button
    elif isinstance(spin, Gtk.SpinButton):
        spin.set_digits(digits)
    if isinstance(spin, Gtk.Entry):
        spin.set_width_chars(width)


def scripted_run(dialog, names, script_path):
    """DIALOG_SCRIPT_ENV: show the dialog, describe it, edit it, answer it (no clicks)."""
    from gi.repository import Gtk

    with open(script_path) as handle:
        script = json.load(handle)
    dialog.show()
    deadline = time.time() + 30.0
    while time.time() < deadline and not dialog.get_mapped():
        Gtk.main_iteration_do(False)
    for _ in range(200):  # let the layout settle: sizes are final after the pending events
        if not Gtk.events_pending():
            break
        Gtk.main_iteration_do(False)
    report = {"mapped": bool(dialog.get_mapped()), "labels": [], "fields": {}}
    for widget in walk(dialog):
        if isinstance(widget, Gtk.Label) and widget.get_visible() and widget.get_text():
            report["labels"].append(widget.get_text())
    for name in names:
        widget = dialog.get_widget(name, GObject.TYPE_NONE)
        report["fields"][name] = [describe_entry(entry) for entry in entries_of(widget)]
    for name, text in (script.get("set") or {}).items():
        for entry in entries_of(dialog.get_widget(name, GObject.TYPE_NONE)):
            entry.set_text(text)
            entry.activate()
    for _ in range(50):
        if not Gtk.events_pending():
            break
        Gtk.main_iteration_do(False)
    with open(script["report"], "w") as handle:
        json.dump(report, handle, indent=1)
    return script.get("response") == "ok"


def walk(widget):
    """`widget` and everything inside it."""
    from gi.repository import Gtk

    yield widget
    if isinstance(widget, Gtk.Container):
        for child in widget.get_children():
            for item in walk(child):
                yield item


def entries_of(widget):
    from gi.repository import Gtk

    if widget is None:
        return []
    return [item for item in walk(widget) if isinstance(item, Gtk.Entry)]


def describe_entry(entry):
    """What a person sees of one text field: its text, whether all of it is visible."""
    layout_width = entry.get_layout().get_pixel_size()[0]
    area = entry.get_text_area()
    return {
        "text": entry.get_text(),
        "editable": bool(entry.get_editable()) and bool(entry.get_sensitive()),
        "width_chars": entry.get_width_chars(),
        "text_width": layout_width,
        "area_width": area.width,
        "fits": layout_width <= area.width,
    }


def progress_callback():
    state = {"stage": None, "since": 0.0, "text": None, "shown": -1.0}
    log_path = os.environ.get(PROGRESS_LOG_ENV)

    def progress(stage, fraction):
        # Each update is a round trip to GIMP: send only visible (1%) steps, and the text
        # only when it changes (a new stage, or one more second spent waiting in it).
        fraction = max(0.0, min(1.0, fraction))
        if stage != state["stage"]:
            state["stage"], state["since"] = stage, time.time()
        text = jrc.progress_text(stage, time.time() - state["since"])
        if text != state["text"]:
            state["text"] = text
            Gimp.progress_set_text(text)
            if log_path:
                with open(log_path, "a") as handle:
                    handle.write(text + "\n")
        if abs(fraction - state["shown"]) >= 0.01 or fraction == 1.0:
            state["shown"] = fraction
            Gimp.progress_update(fraction)
        return True

    return progress


def connect(config):
    """(client, the server's /v1/info) for the config's URL; RetouchError when it does not
    answer (the message names the URL and the command that starts the server)."""
    client = jrc.Client(config.get_property("server-url"), timeout=config.get_property("timeout"))
    return client, client.info(timeout=min(10.0, client.timeout))


def retouch(procedure, run_mode, image, drawables, config):
    """The whole run; raises RetouchError / Cancelled, returns the new top item."""
    timings = {}
    start = time.time()
    drawable = check_drawable(image, drawables)
    interactive = run_mode == Gimp.RunMode.INTERACTIVE
    url = config.get_property("server-url")
    try:
        client, info = connect(config)
    except jrc.RetouchError as error:
        if not interactive:
            raise
        # The dialog still opens (built-in options, the URL editable) and says on top what
        # was tried; OK asks the server again, and a second failure is the one error shown.
        client, info, note = None, None, jrc.unreachable_note(error, url)
    else:
        note = None
    schema = (info or {}).get("options") or jrc.BUILTIN_OPTIONS
    if interactive:
        if not show_dialog(procedure, config, schema, note):
            raise jrc.Cancelled()
        if info is None or config.get_property("server-url") != url:
            client, info = connect(config)
            schema = info.get("options") or jrc.BUILTIN_OPTIONS
        else:
            client = jrc.Client(url, timeout=config.get_property("timeout"))
    options = jrc.options_from_values(schema, values_from_config(config, schema))
    output = config.get_property("output")
    region, rectangular = selection_region(image, drawable)
    channels, depth, format_name = wire_layout(image, drawable, options)
    Gimp.progress_init("Jewel retouch")
    timings["setup"] = time.time() - start
    pixels = read_pixels(drawable, region, format_name, channels, depth)

    def part_sink(descriptor):
        if output == "layer" and descriptor.get("kind") == "image":
            return LayerWriter(image, RESULT_LAYER_NAME, descriptor)
        return None

    request = jrc.RetouchRequest(
        pixels,
        region.width,
        region.height,
        channels,
        depth,
        options=options,
        layers=(output == "layers"),
        progress=progress_callback(),
        info=info,
        part_sink=part_sink,
    )
    result = client.retouch(request)
    timings.update(("client_" + key, value) for key, value in result.timings.items())
    start = time.time()
    try:
        top = insert_result(image, drawable, region, result, output, rectangular)
    except Exception:
        for _, data in result.parts:
            if isinstance(data, Gimp.Layer):
                delete_if_loose(data)
        raise
    timings["insert"] = time.time() - start
    Gimp.progress_end()
    Gimp.displays_flush()
    note = jrc.warnings_text(result.warnings)
    if note:  # after the paste: the result is there, the user learns what to check in it
        Gimp.message(note)  # (a dialog in GIMP; on the console in batch runs)
    timings_path = os.environ.get(TIMINGS_ENV)
    if timings_path:
        with open(timings_path, "w") as handle:
            json.dump(timings, handle)
    return top


class JewelRetouch(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROC_NAME]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, self.run, None)
        procedure.set_image_types("*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("Retouch...")
        procedure.add_menu_path("<Image>/Filters/Jewelry")
        procedure.set_documentation(
            "Retouch jewelry with the local jewel-retouch server",
            "Sends the selected layer (the selection's bounding box) to the jewel-retouch "
            "server and inserts the retouched result as a new layer above it. Start the "
            "server with `jewel-retouch serve`.",
            name,
        )
        procedure.set_attribution("jewel-retouch", "jewel-retouch contributors", "2026")
        labels = argument_labels()
        for spec in jrc.BUILTIN_OPTIONS:
            add_option_argument(procedure, spec, labels[arg_name(spec["name"])])
        output = Gimp.Choice.new()
        for index, (value, label) in enumerate(OUTPUTS):
            output.add(value, index, label, "")
        procedure.add_choice_argument(
            "output",
            labels["output"],
            "layer: one new layer; layers: a group of separable layers and masks",
            output,
            "layer",
            GObject.ParamFlags.READWRITE,
        )
        procedure.add_string_argument(
            "server-url",
            labels["server-url"],
            "The jewel-retouch server's HTTP address",
            jrc.DEFAULT_SERVER_URL,
            GObject.ParamFlags.READWRITE,
        )
        procedure.add_double_argument(
            "timeout",
            labels["timeout"],
            "Give up waiting for the server after this many seconds",
            1.0,
            86400.0,
            600.0,
            GObject.ParamFlags.READWRITE,
        )
        return procedure

    def run(self, procedure, run_mode, image, drawables, config, run_data):
        try:
            retouch(procedure, run_mode, image, drawables, config)
        except jrc.Cancelled:
            Gimp.progress_end()
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        except jrc.RetouchError as error:
            Gimp.progress_end()
            # One message: GIMP shows the returned error in a dialog (interactive) or on the
            # caller (batch); a Gimp.message as well would say it twice.
            return procedure.new_return_values(
                Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(error.message)
            )
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


Gimp.main(JewelRetouch.__gtype__, sys.argv)
