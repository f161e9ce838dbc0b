"""`jewel-retouch presets`: list the named settings sets (built-in and the user's own)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "presets",
        help="list the named settings sets (TOML presets) usable with batch --preset",
        description="List presets. Add your own as TOML files in the folder printed at the end.",
    )
    parser.add_argument("--json", action="store_true", help="print the presets as JSON")
    parser.add_argument(
        "--presets-dir", type=Path, default=None, help="read user presets from this folder"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server.presets import load_presets, user_dir

    presets, problems = load_presets(args.presets_dir)
    folder = args.presets_dir or user_dir()
    if args.json:
        print(json.dumps([p.to_json() for p in presets.values()], indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="jewel-retouch presets", show_lines=True)
        table.add_column("name", style="bold")
        table.add_column("what it does")
        table.add_column("options")
        table.add_column("format")
        for preset in presets.values():
            opts = "\n".join(f"{k} = {v!r}" for k, v in preset.options.items())
            origin = "" if preset.builtin else f"\n(user: {preset.source})"
            table.add_row(
                preset.name,
                f"{preset.title}: {preset.description}{origin}",
                opts,
                preset.format or "same as input",
            )
        console = Console()
        console.print(table)
        console.print(f"Your own presets: *.toml files in {folder}")
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0
