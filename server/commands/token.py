"""`jewel-retouch token`: print the access token (created on first use)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.config import ConfigError, ensure_token, token_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "token",
        help="print the access token the plug-ins need",
        description="Print the server's access token (creating it, mode 0600, if missing).",
    )
    parser.add_argument("--config-dir", type=Path, default=None, help="folder of the token file")
    parser.add_argument("--path", action="store_true", help="print the token file's path instead")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.path:
        print(token_path(args.config_dir))
        return 0
    try:
        print(ensure_token(args.config_dir))
    except ConfigError as exc:
        print(f"jewel-retouch: {exc}", file=sys.stderr)
        return 2
    return 0
