"""`jewel-retouch serve`: run the HTTP API and the WebSocket job channel."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from server import __version__
from server.config import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DIMENSION,
    DEFAULT_MAX_PIXELS,
    DEFAULT_PORT,
    DEFAULT_WS_PORT,
    ConfigError,
    ServerConfig,
    record_running_server,
    remove_running_record,
    token_path,
)

READY_PREFIX = "jewel-retouch ready "


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {text}")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the local retouch server (HTTP API + WebSocket jobs)",
        description=(
            "Run the local retouch server: the HTTP API (default http://127.0.0.1:8765) and the "
            "WebSocket job channel (default ws://127.0.0.1:8766). Every endpoint except "
            "/v1/health needs the access token (`jewel-retouch token`)."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (loopback)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="HTTP port (0: any)")
    parser.add_argument("--ws-port", type=_port, default=DEFAULT_WS_PORT, help="WebSocket port")
    parser.add_argument(
        "--workers", type=_positive(int), default=1, help="jobs run at once (default 1)"
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=4,
        help="jobs waiting beyond the running ones before the server answers 503 (default 4)",
    )
    parser.add_argument(
        "--job-timeout",
        type=_positive(float),
        default=600.0,
        help="seconds one job may run before it is stopped (default 600)",
    )
    parser.add_argument(
        "--queue-timeout",
        type=_positive(float),
        default=600.0,
        help="seconds an HTTP job may wait in the queue before it is refused as busy (default 600)",
    )
    parser.add_argument(
        "--result-timeout",
        type=_positive(float),
        default=60.0,
        help="seconds a WebSocket client may leave its result unread before it is dropped "
        "(default 60)",
    )
    parser.add_argument(
        "--http-threads",
        type=_positive(int),
        default=8,
        help="HTTP requests handled at once (default 8)",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive(int),
        default=64,
        help="open HTTP connections at once (default 64)",
    )
    parser.add_argument(
        "--max-megapixels",
        type=_positive(float),
        default=DEFAULT_MAX_PIXELS / 1e6,
        help="largest image accepted, in megapixels (default 100)",
    )
    parser.add_argument(
        "--max-dimension",
        type=_positive(int),
        default=DEFAULT_MAX_DIMENSION,
        help="longest image side accepted, in pixels",
    )
    parser.add_argument(
        "--max-body-mb",
        type=_positive(float),
        default=DEFAULT_MAX_BODY_BYTES / 2**20,
        help="largest upload accepted, in MiB (default 1024)",
    )
    parser.add_argument(
        "--upload-timeout",
        type=_positive(float),
        default=120.0,
        help="seconds an upload may stall before it is dropped (default 120)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone on the network who has the token can use it)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept browser requests from this origin (repeatable)",
    )
    parser.add_argument(
        "--cors", action="store_true", help="send CORS headers to the allowed origins"
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=None,
        help="folder of the token file (default: per-user config folder, or "
        "$JEWEL_RETOUCH_CONFIG_DIR)",
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="MODULE:FACTORY",
        help="load the model from this factory instead of models.load (experiments, tests)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from server.runner import RunningServer

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = ServerConfig(
        host=args.host,
        port=args.port,
        ws_port=args.ws_port,
        workers=args.workers,
        queue_size=max(0, args.queue_size),
        job_timeout=args.job_timeout,
        queue_timeout=args.queue_timeout,
        result_timeout=args.result_timeout,
        http_threads=args.http_threads,
        connection_limit=args.max_connections,
        max_pixels=int(args.max_megapixels * 1e6),
        max_dimension=args.max_dimension,
        max_body_bytes=int(args.max_body_mb * 2**20),
        upload_timeout=args.upload_timeout,
        allow_remote=args.allow_remote,
        allowed_origins=tuple(args.allow_origin),
        cors=args.cors,
        config_dir=args.config_dir,
    )
    try:
        engine = load_engine(args.model)
        server = RunningServer.start(config, engine=engine, verbose=args.verbose)
    except ConfigError as exc:
        print(f"jewel-retouch: {exc}", file=sys.stderr)
        return 2
    except (OSError, ImportError, AttributeError) as exc:
        print(f"jewel-retouch: cannot start the server: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    model = server.state.engine.model_info
    print(
        f"jewel-retouch {__version__} serving {server.http_url} and {server.ws_url} "
        f"(model {model['name']} {model['version']}, {config.workers} worker(s))",
        file=sys.stderr,
    )
    token_file = token_path(server.config.resolved_config_dir())
    print(f"token file: {token_file}", file=sys.stderr)
    # So that `jewel-retouch token` prints this server's token, even one started with
    # --config-dir, instead of making another one in the default folder.
    try:
        record = record_running_server(
            _pid(), server.http_url, server.ws_url, token_file, time.time()
        )
    except OSError as exc:  # the server works without it; `token` then reads the default file
        record = None
        print(f"jewel-retouch: could not record the running server: {exc}", file=sys.stderr)
    # Like Jupyter's login link: the page reads the token from the fragment, which browsers never
    # send to the server, and keeps it.
    print(f"web page: {server.http_url}/#token={server.state.token}", file=sys.stderr)
    # One machine-readable line on stdout: tests and scripts wait for it.
    ready = {"http": server.http_url, "ws": server.ws_url, "pid": _pid()}
    print(READY_PREFIX + json.dumps(ready), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print("jewel-retouch: stopping", file=sys.stderr)
        if record is not None:
            remove_running_record(record, _pid())
        server.stop()
    return 0


def load_engine(spec: str | None):
    """An Engine around `models.load()`, or around the factory named MODULE:FACTORY."""
    import importlib

    from server.engine import Engine

    if not spec:
        return Engine()
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ImportError(f"--model must look like MODULE:FACTORY, got {spec!r}")
    factory = getattr(importlib.import_module(module_name), attr)
    return Engine(retoucher=factory())


def _pid() -> int:
    import os

    return os.getpid()
