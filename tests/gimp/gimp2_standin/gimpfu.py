"""Stand-in for GIMP 2.10's `gimpfu` (Python-Fu registration layer), for tests.

Models what gimpfu does with a plug-in: `register()` checks and records the procedure (name
canonicalised to `python-fu-...`, image procedures must start with PF_IMAGE, PF_DRAWABLE),
`main()` returns, and `run_procedure()` plays the PDB's non-interactive call: every argument
is converted to its PDB type the way GIMP 2.10 hands them over (PF_TOGGLE and PF_OPTION
arrive as ints, PF_FLOAT as float, PF_STRING as str).
"""

from __future__ import annotations

import re

import gimp
from gimp import (  # noqa: F401  (re-exported, as gimpfu does)
    ADD_BLACK_MASK,
    ADD_SELECTION_MASK,
    ADD_WHITE_MASK,
    CHANNEL_OP_REPLACE,
    GRAY,
    GRAY_IMAGE,
    GRAYA_IMAGE,
    INDEXED,
    MASK_APPLY,
    MASK_DISCARD,
    NORMAL_MODE,
    RGB,
    RGB_IMAGE,
    RGBA_IMAGE,
    pdb,
)

(
    PF_INT8,
    PF_INT16,
    PF_INT32,
    PF_INT,
    PF_FLOAT,
    PF_STRING,
    PF_VALUE,
    PF_COLOR,
    PF_ITEM,
    PF_DISPLAY,
    PF_IMAGE,
    PF_LAYER,
    PF_CHANNEL,
    PF_DRAWABLE,
    PF_VECTORS,
) = range(15)
PF_TOGGLE, PF_BOOL, PF_SLIDER, PF_SPINNER, PF_RADIO, PF_OPTION = 1000, 1000, 1001, 1002, 1003, 1004
PF_FONT, PF_FILE, PF_BRUSH, PF_PATTERN, PF_GRADIENT, PF_PALETTE = range(2000, 2006)

RUN_INTERACTIVE, RUN_NONINTERACTIVE, RUN_WITH_LAST_VALS = 0, 1, 2

procedures: dict[str, dict] = {}


def _canonical(name):
    if not name.startswith(("python-", "python_", "extension-", "plug-in-", "file-")):
        name = "python-fu-" + name
    return name.replace("_", "-")


def register(
    proc_name,
    blurb,
    help,
    author,
    copyright,
    date,
    label,
    imagetypes,
    params,
    results,
    function,
    menu=None,
    domain=None,
    on_query=None,
    on_run=None,
):
    name = _canonical(proc_name)
    seen = set()
    for param in params:
        if len(param) < 4:
            raise gimp.error("parameter definition must have at least 4 elements")
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9_-]*$", param[1]) or param[1] in seen:
            raise gimp.error(f"parameter name {param[1]!r} is invalid or repeated")
        seen.add(param[1])
        if param[0] == PF_OPTION and not (0 <= param[3] < len(param[4])):
            raise gimp.error(f"PF_OPTION default out of range for {param[1]!r}")
    if menu and menu.startswith("<Image>"):
        kinds = [param[0] for param in params[:2]]
        if kinds != [PF_IMAGE, PF_DRAWABLE]:
            raise gimp.error("<Image> procedures must take PF_IMAGE, PF_DRAWABLE first")
    if not all(ord(ch) < 128 for ch in blurb + help + label):
        raise gimp.error("non-ASCII text in the registration")
    procedures[name] = {
        "function": function,
        "params": params,
        "menu": menu,
        "label": label,
        "imagetypes": imagetypes,
    }


def main():
    """GIMP calls query/run through here; importing the plug-in only registers it."""


def _convert(param, value):
    kind = param[0]
    if kind in (PF_TOGGLE, PF_INT, PF_INT32, PF_OPTION, PF_RADIO, PF_SPINNER):
        if isinstance(value, str):
            raise gimp.error(f"argument {param[1]} must be an integer")
        return int(value)
    if kind in (PF_FLOAT, PF_SLIDER):
        return float(value)
    if kind == PF_STRING:
        return str(value)
    return value


def run_procedure(name, image, drawable, **arguments):
    """Call a registered procedure non-interactively; unnamed arguments take defaults."""
    procedure = procedures[name]
    values = [image, drawable]
    params = procedure["params"][2:]
    unknown = set(arguments) - {param[1] for param in params}
    if unknown:
        raise gimp.error(f"unknown arguments {sorted(unknown)}")
    for param in params:
        value = arguments.get(param[1], param[3])
        values.append(_convert(param, value))
    return procedure["function"](*values)
