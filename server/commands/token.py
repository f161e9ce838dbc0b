"""`jewel-retouch token`: print the access token the running server uses.

It never creates a token: only `jewel-retouch serve` does, so a token printed here is always
the one a server checks. A server started with `--config-dir` records where its token file
is (server/config.py, `running_servers`), so a plain `jewel-retouch token` finds it too.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from server.config import (
    ConfigError,
    RunningServer,
    check_token_file,
    read_token,
    running_dir,
    running_servers,
    token_path,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "token",
        help="print the access token the plug-ins and the web page need",
        description="Print the access token of the running server (or, when none runs, the one "
        "the next `jewel-retouch serve` will use). It never makes a token: the server makes "
        "it when it first starts.",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=None,
        help="folder of the token file, when the server was started with --config-dir",
    )
    parser.add_argument("--path", action="store_true", help="print the token file's path instead")
    parser.add_argument(
        "--link",
        action="store_true",
        help="print the running server's web page link with the token in it",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class TokenSource:
    """The token file `token` reads, and the running server that uses it (None: none runs)."""

    path: Path
    server: RunningServer | None
    others: tuple[RunningServer, ...] = ()


def locate(config_dir: Path | None) -> TokenSource:
    """Which token file is the one in use: --config-dir's, else the newest running server's,
    else the per-user default (what the next `serve` will use)."""
    servers = running_servers()
    if config_dir is not None:
        path = token_path(config_dir)
        users = [s for s in servers if _same_file(s.token_file, path)]
        return TokenSource(path, users[0] if users else None)
    if servers:
        newest, *others = servers
        differ = tuple(s for s in others if not _same_file(s.token_file, newest.token_file))
        return TokenSource(newest.token_file, newest, differ)
    return TokenSource(token_path(None), None)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def run(args: argparse.Namespace) -> int:
    source = locate(args.config_dir)
    if args.path:
        print(source.path)
        return 0
    try:
        token = read_token(source.path.parent)
        if token:
            check_token_file(source.path, token)
    except ConfigError as exc:
        print(f"jewel-retouch token: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"jewel-retouch token: cannot read {source.path}: {exc}", file=sys.stderr)
        return 2
    if not token:
        print(no_token_message(source, args.config_dir), file=sys.stderr)
        return 1
    if args.link:
        if source.server is None:
            print(
                "jewel-retouch token: no server is running, so there is no page to link to; "
                "start it with: " + serve_command(args.config_dir),
                file=sys.stderr,
            )
            return 1
        print(f"{source.server.http}/#token={token}")
    else:
        print(token)
    # Where it came from goes to stderr, so `$(jewel-retouch token)` gets the token alone.
    if source.server is not None:
        print(
            f"(the token of the server running at {source.server.http}; token file {source.path})",
            file=sys.stderr,
        )
    else:
        print(
            f"(no server is running now; {source.path} is the token the next "
            f"`{serve_command(args.config_dir)}` will use)",
            file=sys.stderr,
        )
    for other in source.others:
        print(
            f"note: another server runs at {other.http} with another token; for it run: "
            f"jewel-retouch token --config-dir {shlex.quote(str(other.token_file.parent))}",
            file=sys.stderr,
        )
    return 0


def serve_command(config_dir: Path | None) -> str:
    if config_dir is None:
        return "jewel-retouch serve"
    return f"jewel-retouch serve --config-dir {shlex.quote(str(config_dir))}"


def no_token_message(source: TokenSource, config_dir: Path | None) -> str:
    if source.server is not None:
        return (
            f"jewel-retouch token: the server running at {source.server.http} uses the token "
            f"file {source.path}, which is gone or empty; stop that server and start it again "
            "to make a new token."
        )
    looked = f"looked in {source.path}"
    if config_dir is None:
        looked += f" and for running servers in {running_dir()}"
    return (
        f"jewel-retouch token: no token yet ({looked}): no server has made one. Start the "
        f"server with `{serve_command(config_dir)}`: it makes the token and prints the web "
        "page's link with it; then run `jewel-retouch token` again."
    )
