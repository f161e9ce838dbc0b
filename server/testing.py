"""Start a real `jewel-retouch serve` process for tests (any area), and always stop it; test
models; and a WebSocket client on a bare socket that reads only when told to (for probes of
clients that misbehave: `raw_ws`, `send_frame`, `read_json`, `hello`, `raw_job`); and the
server's side of one scripted job for tests of clients (`scripted_job`).

    from server.testing import run_server

    with run_server(tmp_path) as srv:
        requests.get(srv.http_url + "/v1/info", headers=srv.auth_headers)
        # srv.ws_url, srv.token, srv.config_dir, srv.process

The server listens on free ports (port 0) with `JEWEL_RETOUCH_CONFIG_DIR` pointing at a folder
under `tmpdir`, so it never touches the user's token. Extra keyword arguments become command
line flags: `run_server(tmp, workers=2, queue_size=0, max_megapixels=1, allow_origin=[...])`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from server.commands.serve import READY_PREFIX
from server.config import CONFIG_DIR_ENV, read_token

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServerProcess:
    """A started server: where it listens, its token, and the process itself."""

    http_url: str
    ws_url: str
    token: str
    config_dir: Path
    process: subprocess.Popen
    log_path: Path

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log(self) -> str:
        """What the server wrote on stderr so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _flags(options: dict) -> list[str]:
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


@contextlib.contextmanager
def run_server(
    tmpdir: str | Path,
    startup_timeout: float = 60.0,
    env: dict[str, str] | None = None,
    python: str | None = None,
    **flags,
) -> Iterator[ServerProcess]:
    """Run `python -m server serve --port 0 --ws-port 0 ...` until the block ends."""
    tmpdir = Path(tmpdir)
    config_dir = tmpdir / "jewel-retouch-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    log_path = tmpdir / "jewel-retouch-server.log"
    flags.setdefault("port", 0)
    flags.setdefault("ws_port", 0)
    command = [python or sys.executable, "-m", "server", "serve", *_flags(flags)]
    process_env = dict(os.environ)
    process_env[CONFIG_DIR_ENV] = str(config_dir)
    process_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [process_env.get("PYTHONPATH")])]
    )
    process_env.setdefault("PYTHONUNBUFFERED", "1")
    process_env.update(env or {})
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=log_file,
        stdin=subprocess.DEVNULL,
    )
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            lines.put(raw.decode("utf-8", "replace"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        ready = _wait_ready(process, lines, startup_timeout, log_path)
        token = read_token(config_dir)
        if not token:
            raise RuntimeError("the server started but wrote no token file")
        yield ServerProcess(ready["http"], ready["ws"], token, config_dir, process, log_path)
    finally:
        _stop(process)
        log_file.close()


def _wait_ready(process, lines: queue.Queue, timeout: float, log_path: Path) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line is None:
            break
        if line.startswith(READY_PREFIX):
            return json.loads(line[len(READY_PREFIX) :])
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    raise RuntimeError(f"jewel-retouch serve did not start (exit {process.poll()}):\n{log}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class SlowRetoucher:
    """A real but slow identity model for tests of progress, cancellation, timeouts and queues.

    It reports `steps` progress ticks `delay` seconds apart (stage "work") and counts the ticks
    it got through in `ticks`, so a test can prove that a cancel stopped the work. Start a
    server with it through `run_server(tmp, model="server.testing:slow_model")`; the
    environment variables JEWEL_RETOUCH_SLOW_STEPS / JEWEL_RETOUCH_SLOW_DELAY set its pace.
    """

    name = "slow-identity"
    version = "0"

    def __init__(self, steps: int = 20, delay: float = 0.05) -> None:
        self.steps = steps
        self.delay = delay
        self.ticks = 0
        self.started = threading.Event()

    def retouch(self, image, options=None, progress=None, layers: bool = False):
        import numpy as np

        from models.api import ImageData, Result

        progress = progress or (lambda stage, fraction: None)
        self.ticks = 0
        self.started.set()
        for step in range(self.steps):
            progress("work", step / self.steps)
            self.ticks += 1
            time.sleep(self.delay)
        progress("done", 1.0)
        out = ImageData(np.array(image.pixels, copy=True), image.icc_profile)
        result = Result(out, info={"ticks": self.ticks})
        if layers:
            h, w = image.pixels.shape[:2]
            full = 255 if image.pixels.dtype == np.uint8 else 65535
            rgba = np.zeros((h, w, 4), image.pixels.dtype)
            rgba[:, :, 3] = full
            result.layers = {"tone": ImageData(rgba, image.icc_profile)}
            result.masks = {"piece": np.full((h, w), 255, np.uint8)}
        result.variants = stand_in_variants(image, options)
        return result


def stand_in_variants(image, options) -> dict:
    """What a stand-in model returns for options.metal_variants: per metal, the image with its
    colour channels inverted (alpha kept), so that a test can tell each part from the image."""
    import numpy as np

    from models.api import ImageData, RetouchOptions

    if options is None or isinstance(options, dict):
        options = RetouchOptions.from_mapping(options or {})
    variants = {}
    for kind in options.metal_variants:
        pixels = np.array(image.pixels, copy=True)
        colour_n = 1 if pixels.shape[2] in (1, 2) else 3
        full = 255 if pixels.dtype == np.uint8 else 65535
        pixels[..., :colour_n] = full - pixels[..., :colour_n]
        variants[kind] = ImageData(pixels, image.icc_profile)
    return variants


def slow_model() -> SlowRetoucher:
    """Factory for `serve --model server.testing:slow_model` (pace from the environment)."""
    return SlowRetoucher(
        int(os.environ.get("JEWEL_RETOUCH_SLOW_STEPS", "20")),
        float(os.environ.get("JEWEL_RETOUCH_SLOW_DELAY", "0.05")),
    )


class IdentityRetoucher:
    """The model replaced by identity (no copy): what the bridge alone costs (benchmarks)."""

    name = "identity"
    version = "0"

    def retouch(self, image, options=None, progress=None, layers: bool = False):
        from models.api import Result

        if progress is not None:
            progress("identity", 0.0)
            progress("done", 1.0)
        return Result(image, variants=stand_in_variants(image, options))


def identity_model() -> IdentityRetoucher:
    """Factory for `serve --model server.testing:identity_model`."""
    return IdentityRetoucher()


class WarningRetoucher(IdentityRetoucher):
    """Identity (a copy) that reports the `background_kept` warning, as the real model does for
    a photo that is not a studio shot: for tests of how warnings reach users."""

    name = "warning-identity"

    def retouch(self, image, options=None, progress=None, layers: bool = False):
        import numpy as np

        from models.api import ImageData, Result, warning

        if progress is not None:
            progress("done", 1.0)
        out = ImageData(np.array(image.pixels, copy=True), image.icc_profile)
        return Result(out, info={"warnings": [warning("background_kept")], "confidence": {}})


def warning_model() -> WarningRetoucher:
    """Factory for `--model server.testing:warning_model` (serve, retouch, batch)."""
    return WarningRetoucher()


# --- a WebSocket client on a bare socket ----------------------------------------------------


def receive_result(ws, timeout: float):
    """Reads one WebSocket job's answer from a websockets client connection `ws` until its
    `done`, `error` or `cancelled` message: returns (the ResultReader of its parts, or None
    when no result came, that final message)."""
    from server.protocol import ResultReader

    reader = None
    while True:
        item = ws.recv(timeout=timeout)
        if isinstance(item, bytes):
            if reader is None:
                raise RuntimeError("a binary frame before the result header")
            reader.feed(item)
            continue
        message = json.loads(item)
        if message["type"] == "result":
            reader = ResultReader(message)
        elif message["type"] in ("done", "error", "cancelled"):
            return reader, message


def scripted_job(ws) -> tuple[dict, bytes]:
    """A scripted job channel's side of one job (ws: a server-side simple-websocket
    connection): hello -> ready, then the job header and all its bytes; returns (header,
    bytes)."""
    assert json.loads(ws.recv())["type"] == "hello"
    ws.send(json.dumps({"type": "ready", "version": "0", "limits": {}}))
    job = json.loads(ws.recv())
    received = b""
    while len(received) < job["bytes"]:
        received += ws.recv()
    return job, received


def host_port(url: str) -> tuple[str, int]:
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    return host, int(port)


@contextlib.contextmanager
def raw_ws(url: str, host_header: str | None = None, origin: str | None = None, rcvbuf=None):
    """(socket, status line) of a WebSocket handshake; the caller drives the frames."""
    host, port = host_port(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET / HTTP/1.1",
        f"Host: {host_header or f'{host}:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    try:
        yield sock, head.split(b"\r\n", 1)[0].decode()
    finally:
        sock.close()


def send_frame(sock: socket.socket, payload: bytes | str, opcode: int | None = None) -> None:
    """One masked client frame (text for str, binary for bytes)."""
    import numpy as np

    if isinstance(payload, str):
        payload, opcode = payload.encode(), opcode or 1
    opcode = opcode or 2
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)
    sock.sendall(head + mask + masked.tobytes())


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """(opcode, payload) of the next server frame."""
    first, second = _recv_exactly(sock, 2)
    n = second & 0x7F
    if n == 126:
        n = struct.unpack(">H", _recv_exactly(sock, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", _recv_exactly(sock, 8))[0]
    return first & 0x0F, _recv_exactly(sock, n)


def read_json(sock: socket.socket) -> dict:
    """The next text message (ConnectionError when the server closes instead)."""
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 1:
            return json.loads(payload)
        if opcode == 8:
            raise ConnectionError(f"closed {struct.unpack('>H', payload[:2])[0]}")


def close_code(sock: socket.socket) -> int:
    """Read until the server's close frame; its code."""
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 8:
            return struct.unpack(">H", payload[:2])[0]


def hello(sock: socket.socket, token: str) -> dict:
    """Authenticate; the server's answer (`ready` or an error)."""
    send_frame(sock, json.dumps({"type": "hello", "token": token}))
    return read_json(sock)


def raw_job(sock: socket.socket, px, job_id: str = "j", **extra) -> None:
    """Send a raw 8-bit job (header and pixels) for the (H, W, C) array `px`."""
    h, w, c = px.shape
    header = {"type": "job", "id": job_id, "format": "raw", "width": w, "height": h}
    header.update(channels=c, depth=8, bytes=px.nbytes, **extra)
    send_frame(sock, json.dumps(header))
    data = px.tobytes()
    for start in range(0, len(data), 1 << 20):
        send_frame(sock, data[start : start + (1 << 20)])


def cli_in_process(capsys, *args: str):
    """`jewel-retouch ARGS` through the CLI's entry point in this process (monkeypatches reach
    it; no interpreter start-up per call): a CompletedProcess with pytest's captured output.
    capsys: pytest's capsys fixture."""
    import subprocess

    from server.cli import main

    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)
