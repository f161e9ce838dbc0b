# ruff: noqa: E402
"""Runs inside real GIMP 3 (`gimp-console-3.0 --batch-interpreter python-fu-eval`).

Reads a JSON spec (path in the SPEC variable that the launcher defines before exec'ing this
file), builds each scenario's image from raw pixel files the test wrote, calls
`python-fu-jewel-retouch` non-interactively, and writes a JSON report plus raw dumps of what
the plug-in produced. pytest asserts on the report; nothing is judged here.
"""

import hashlib
import json
import os
import sys
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Babl", "0.1")
from gi.repository import Babl, Gegl, Gimp

Gegl.init(None)

SPEC = globals().get("SPEC") or os.environ["JEWEL_BATCH_SPEC"]
with open(SPEC) as handle:
    spec = json.load(handle)
out_dir = spec["out_dir"]

BASES = {
    "rgb": Gimp.ImageBaseType.RGB,
    "gray": Gimp.ImageBaseType.GRAY,
}
PRECISIONS = {
    "u8": Gimp.Precision.U8_NON_LINEAR,
    "u16": Gimp.Precision.U16_NON_LINEAR,
}
LAYER_TYPES = {
    "rgba": Gimp.ImageType.RGBA_IMAGE,
    "rgb": Gimp.ImageType.RGB_IMAGE,
    "graya": Gimp.ImageType.GRAYA_IMAGE,
}


def rect(x, y, w, h):
    return Gegl.Rectangle.new(x, y, w, h)


def read(drawable, fmt):
    w, h = drawable.get_width(), drawable.get_height()
    return bytes(drawable.get_buffer().get(rect(0, 0, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE))


def native(drawable):
    """The drawable's own 8-bit grey format: its stored codes, with no tone-curve conversion."""
    return "Y' u8" if Babl.get_name(drawable.get_format()).startswith("Y'") else "Y u8"


def dump(name, data):
    path = os.path.join(out_dir, name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def describe(item, prefix, fmt):
    """Facts about a layer (or group) the plug-in made, with its pixels dumped."""
    _, ox, oy = item.get_offsets()
    info = {
        "name": item.get_name(),
        "offsets": [ox, oy],
        "width": item.get_width(),
        "height": item.get_height(),
        "is_group": bool(item.is_group_layer()),
        "visible": bool(item.get_visible()),
        "format": Babl.get_name(item.get_format()),
    }
    mask = item.get_mask()
    info["has_mask"] = mask is not None
    if mask is not None:
        # Stored codes, read in the mask's own tone curve (as the plug-in writes them).
        info["mask"] = dump(prefix + ".mask.raw", read(mask, native(mask)))
    if info["is_group"]:
        info["children"] = [
            describe(child, f"{prefix}.{index}", fmt)
            for index, child in enumerate(item.get_children())
        ]
    else:
        info["pixels"] = dump(prefix + ".raw", read(item, fmt))
    return info


def build(scenario):
    image_spec, layer_spec = scenario["image"], scenario["layer"]
    image = Gimp.Image.new_with_precision(
        image_spec["width"],
        image_spec["height"],
        BASES[image_spec["base"]],
        PRECISIONS[image_spec["precision"]],
    )
    kind = LAYER_TYPES[layer_spec["type"]]
    bottom = Gimp.Layer.new(image, "bottom", 8, 8, kind, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(bottom, None, 0)
    source = Gimp.Layer.new(
        image,
        "source",
        layer_spec["width"],
        layer_spec["height"],
        kind,
        100.0,
        Gimp.LayerMode.NORMAL,
    )
    parent = None
    if layer_spec.get("in_group"):  # the source inside a layer group, under a sibling layer
        parent = Gimp.GroupLayer.new(image, "holder")
        image.insert_layer(parent, None, 0)
        sibling = Gimp.Layer.new(image, "sibling", 8, 8, kind, 100.0, Gimp.LayerMode.NORMAL)
        image.insert_layer(sibling, parent, 0)
    image.insert_layer(source, parent, 0 if parent is None else 1)
    source.set_offsets(*layer_spec["offsets"])
    with open(layer_spec["pixels"], "rb") as handle:
        data = handle.read()
    buffer = source.get_buffer()
    buffer.set(rect(0, 0, layer_spec["width"], layer_spec["height"]), layer_spec["format"], data)
    buffer.flush()
    top = Gimp.Layer.new(image, "top", 8, 8, kind, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(top, None, 0)
    if image_spec.get("indexed"):
        image.convert_indexed(
            Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False, False, ""
        )
    selection = scenario.get("selection")
    if selection:
        args = (
            Gimp.ChannelOps.REPLACE,
            selection["x"],
            selection["y"],
            selection["w"],
            selection["h"],
        )
        if selection["kind"] == "ellipse":
            image.select_ellipse(*args)
        else:
            image.select_rectangle(*args)
    return image, source


def run_scenario(scenario):
    report = {"name": scenario["name"]}
    image, source = build(scenario)
    fmt = scenario["layer"]["format"]
    report["source_before"] = hashlib.sha256(read(source, fmt)).hexdigest()
    report["layers_before"] = [layer.get_name() for layer in image.get_layers()]
    report["channels_before"] = [channel.get_name() for channel in image.get_channels()]
    holder = source.get_parent()
    group_before = [layer.get_name() for layer in holder.get_children()] if holder else None
    selection = scenario.get("selection")
    if selection:
        bounds = image.get_selection().get_buffer()
        report["selection"] = dump(
            scenario["name"] + ".selection.raw",
            bytes(
                bounds.get(
                    rect(0, 0, image.get_width(), image.get_height()),
                    1.0,
                    "Y u8",
                    Gegl.AbyssPolicy.NONE,
                )
            ),
        )
    # The plug-in (a process GIMP starts) reads these files, named by the launch's environment.
    progress_log = spec.get("progress_log")
    if progress_log:
        open(progress_log, "w").close()
    if spec.get("dialog_script"):
        with open(spec["dialog_script"], "w") as handle:
            json.dump(scenario.get("dialog") or {}, handle)
    procedure = Gimp.get_pdb().lookup_procedure(spec["proc"])
    config = procedure.create_config()
    interactive = scenario.get("run_mode") == "interactive"
    config.set_property(
        "run-mode", Gimp.RunMode.INTERACTIVE if interactive else Gimp.RunMode.NONINTERACTIVE
    )
    config.set_property("image", image)
    config.set_core_object_array("drawables", [source])
    for name, value in scenario.get("args", {}).items():
        config.set_property(name, value)
    start = time.time()
    result = procedure.run(config)
    report["seconds"] = time.time() - start
    if progress_log:
        with open(progress_log) as handle:
            report["progress"] = handle.read().splitlines()
    status = result.index(0)
    report["status"] = status.value_nick if hasattr(status, "value_nick") else str(status)
    report["error"] = ""
    if result.length() > 1:
        try:
            report["error"] = str(result.index(1))
        except Exception:  # the error value may not be a string
            pass
    if not report["error"]:
        report["error"] = Gimp.get_pdb().get_last_error() or ""
    layers = image.get_layers()
    report["layers_after"] = [layer.get_name() for layer in layers]
    holder = source.get_parent()
    if holder is not None:
        report["group_before"] = group_before
        report["group_after"] = [layer.get_name() for layer in holder.get_children()]
        layers = holder.get_children()
    report["channels_after"] = []
    for index, channel in enumerate(image.get_channels()):
        report["channels_after"].append(
            {
                "name": channel.get_name(),
                "visible": bool(channel.get_visible()),
                "pixels": dump(
                    f"{scenario['name']}.channel{index}.raw", read(channel, native(channel))
                ),
            }
        )
    position = [layer.get_name() for layer in layers].index("source")
    report["source_after"] = hashlib.sha256(read(source, fmt)).hexdigest()
    report["source_offsets_after"] = list(source.get_offsets()[1:])
    if position > 0 and layers[position - 1].get_name() not in ("top", "sibling"):
        report["new"] = describe(
            layers[position - 1], scenario["name"] + ".new", scenario["dump_format"]
        )
    image.delete()
    return report


reports = []
for scenario in spec["scenarios"]:
    try:
        reports.append(run_scenario(scenario))
    except Exception:
        reports.append({"name": scenario["name"], "crash": traceback.format_exc()})
    sys.stderr.write(f"scenario {scenario['name']} done\n")
with open(os.path.join(out_dir, "report.json"), "w") as handle:
    json.dump(reports, handle, indent=1)
