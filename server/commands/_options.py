"""The model options as command-line flags, shared by `retouch` and `batch`.

Built from models.api.OPTION_SPECS when the parser is built, so a new option gets its flag
without an edit here. A type this module does not know gets no flag (the option keeps its
default) instead of breaking every command.
"""

from __future__ import annotations

import argparse
from typing import Any

from models import api


def specs() -> tuple[api.OptionSpec, ...]:
    # Looked up at call time, so a test (or a new option) that replaces the tuple is seen.
    return api.OPTION_SPECS


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def _list_of(spec: api.OptionSpec):
    """argparse type for a list option: comma-separated names, each one of its choices."""
    allowed = tuple(spec.choices or ())

    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        wrong = [item for item in items if allowed and item not in allowed]
        if wrong:
            raise argparse.ArgumentTypeError(
                f"{', '.join(wrong)} not allowed; choose from {', '.join(allowed)}"
            )
        return items

    return parse


def add_option_flags(
    group: argparse._ArgumentGroup, dest_prefix: str = "", show_default: bool = True
) -> list[str]:
    """One flag per option (`--gem-contrast 0.3`, `--no-cleanup`, `--metal-variants a,b`);
    returns the option names that got one."""
    added = []
    for spec in specs():
        dest = dest_prefix + spec.name
        text = spec.description
        if show_default:
            text += f" (default {spec.default!r})"
        text = text.replace("%", "%%")  # argparse formats help with %
        flag = flag_of(spec.name)
        if spec.type == "boolean":
            group.add_argument(
                flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=text
            )
        elif spec.type == "enum":
            group.add_argument(flag, dest=dest, choices=spec.choices, help=text)
        elif spec.type in ("number", "integer"):
            low = "" if spec.minimum is None else f"{spec.minimum:g}"
            high = "" if spec.maximum is None else f"{spec.maximum:g}"
            group.add_argument(
                flag,
                dest=dest,
                type=int if spec.type == "integer" else float,
                metavar=f"{low}..{high}" if low or high else "N",
                help=text,
            )
        elif spec.type == "list":
            # metal_variants is asked for often enough to deserve the short --variants too.
            aliases = ["--variants"] if spec.name == "metal_variants" else []
            group.add_argument(
                flag,
                *aliases,
                dest=dest,
                type=_list_of(spec),
                metavar="A,B,...",
                help=text + (f"; from {', '.join(spec.choices)}" if spec.choices else ""),
            )
        else:
            continue
        added.append(spec.name)
    return added


def given_options(args: argparse.Namespace, dest_prefix: str = "") -> dict[str, Any]:
    """The options given on the command line (those left out stay unset)."""
    values = {spec.name: getattr(args, dest_prefix + spec.name, None) for spec in specs()}
    return {name: value for name, value in values.items() if value is not None}


def as_flags(options: dict[str, Any]) -> list[str]:
    """Command-line flags that give these options again (to suggest an exact command)."""
    by_name = {spec.name: spec for spec in specs()}
    flags: list[str] = []
    for name, value in options.items():
        spec = by_name.get(name)
        flag = flag_of(name)
        if spec is not None and spec.type == "boolean":
            flags.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (list, tuple)):
            flags += [flag, ",".join(str(item) for item in value)]
        else:
            flags += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return flags


def describe_allowed(option: dict[str, Any]) -> str:
    """A schema entry's allowed values in words (for `info`, and the README table)."""
    kind = option.get("type")
    if kind == "enum":
        return "|".join(option.get("choices") or ())
    if kind == "boolean":
        return "true|false"
    if kind in ("number", "integer"):
        return f"{option.get('minimum', '')}..{option.get('maximum', '')}"
    if kind == "list":
        return "list of " + "|".join(option.get("choices") or ())
    return str(kind)
