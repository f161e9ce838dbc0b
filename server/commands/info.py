"""`jewel-retouch info`: version, model, options schema, limits, formats and paths."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import models
from server import __version__
from server.commands._options import describe_allowed
from server.commands.token import locate
from server.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DIMENSION,
    DEFAULT_MAX_PIXELS,
    DEFAULT_PORT,
    DEFAULT_WS_PORT,
)
from server.protocol import ENCODED_FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show version, model, options and limits",
        description="Show what this installation offers: version, model, the options every "
        "plug-in shows (with defaults and ranges), limits, formats and the token file path.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (like GET /v1/info)")
    parser.add_argument(
        "--options-markdown",
        action="store_true",
        help="print the options as the Markdown table of README.md (tests compare the two)",
    )
    parser.add_argument("--config-dir", type=Path, default=None, help="folder of the token file")
    parser.set_defaults(func=run)


def collect(config_dir: Path | None = None) -> dict:
    retoucher = models.load()
    return {
        "version": __version__,
        "model": {"name": retoucher.name, "version": retoucher.version},
        "options": models.options_schema(),
        "limits": {
            "max_pixels": DEFAULT_MAX_PIXELS,
            "max_dimension": DEFAULT_MAX_DIMENSION,
            "max_body_bytes": DEFAULT_MAX_BODY_BYTES,
        },
        "formats": {"input": ["raw", *ENCODED_FORMATS], "output": ["raw", *ENCODED_FORMATS]},
        "defaults": {
            "http": f"http://127.0.0.1:{DEFAULT_PORT}",
            "ws": f"ws://127.0.0.1:{DEFAULT_WS_PORT}",
        },
        # The file `jewel-retouch token` reads: a running server's, else the default one.
        "token_file": str(locate(config_dir).path),
    }


def _values(option: dict) -> str:
    """An option's values in words, default in bold, for the README table."""
    kind, default = option.get("type"), option.get("default")
    if kind == "enum":
        return ", ".join(
            f"**{c}**" if c == default else f"`{c}`" for c in option.get("choices") or ()
        )
    if kind == "boolean":
        return "**on**, `off`" if default else "`on`, **off**"
    if kind in ("number", "integer"):
        return f"{option.get('minimum', '')} to {option.get('maximum', '')}, **{default}**"
    if kind == "list":
        items = ", ".join(f"`{c}`" for c in option.get("choices") or ())
        return f"any of {items}; **{', '.join(default) if default else 'none'}**"
    return f"{kind}, **{default}**"


def _flags(option: dict) -> str:
    flag = "--" + option["name"].replace("_", "-")
    if option.get("type") == "boolean":
        return f"`{flag}` / `--no-{flag[2:]}`"
    if option.get("type") == "list":
        return f"`{flag} A,B`"
    return f"`{flag}`"


def options_markdown(schema: list[dict] | None = None) -> str:
    """The options table of README.md, made from the published schema (`/v1/info`): the
    README test compares the two, so a new option cannot be left out of the README."""
    rows = [
        "| setting (web page, GIMP, Photoshop) | command-line flag | values (default in bold) "
        "| what it does |",
        "|---|---|---|---|",
    ]
    for option in models.options_schema() if schema is None else schema:
        text = " ".join(str(option.get("description", "")).split()).replace("|", "\\|")
        rows.append(f"| {option['label']} | {_flags(option)} | {_values(option)} | {text} |")
    return "\n".join(rows) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.options_markdown:  # the schema alone: no model to load
        print(options_markdown(), end="")
        return 0
    info = collect(args.config_dir)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"jewel-retouch {info['version']}")
    print(f"model: {info['model']['name']} {info['model']['version']}")
    print(f"server defaults: {info['defaults']['http']}  {info['defaults']['ws']}")
    print(f"token file: {info['token_file']}")
    limits = info["limits"]
    print(
        f"limits: {limits['max_pixels'] / 1e6:g} MP, side <= {limits['max_dimension']} px, "
        f"upload <= {limits['max_body_bytes'] // 2**20} MiB"
    )
    print(f"formats: {', '.join(info['formats']['input'])} (8 or 16 bit; JPEG/WebP 8 bit)")
    print("options:")
    for option in info["options"]:
        allowed = describe_allowed(option)  # any type, also one this version does not know
        print(f"  {option['name']:<13} {allowed:<52} default {option['default']!r}")
        print(f"  {'':<13} {option['description']}")
    return 0
