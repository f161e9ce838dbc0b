"""Fixtures for the GIMP plug-in tests: a real GIMP 3 in a trixie chroot, a real server.

The chroot is built by scripts/gimp3-chroot.sh when missing (idempotent, outside the repo,
serialised by a lock file). If it cannot be built, or GIMP cannot run, the tests FAIL: they
are never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Seconds a `jewel-retouch serve` may take to start: generous, for a busy machine.
SERVER_START_S = 300

REPO = Path(__file__).resolve().parents[2]
CHROOT_SCRIPT = REPO / "scripts" / "gimp3-chroot.sh"
BATCH_SCRIPT = Path(__file__).resolve().parent / "gimp3_batch.py"
GIMP_TIMEOUT = 300  # seconds for one GIMP launch (a cold start is ~10 s, scenarios ~1 s each)
GIMP_PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/gimp/3.0/plug-ins"


@pytest.fixture(scope="session")
def gimp3_root() -> Path:
    """The trixie chroot holding GIMP 3, built when missing."""
    try:
        done = subprocess.run(
            ["bash", str(CHROOT_SCRIPT)], capture_output=True, text=True, timeout=1800
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"building the GIMP 3 chroot timed out: {error}")
    if done.returncode != 0:
        pytest.fail(
            "cannot set up GIMP 3 for the plug-in tests (scripts/gimp3-chroot.sh exit "
            f"{done.returncode}):\n{done.stderr[-4000:]}"
        )
    root = Path(done.stdout.strip().splitlines()[-1])
    if not (root / "usr/bin/gimp-console-3.0").exists():
        pytest.fail(f"gimp-console-3.0 missing from the chroot {root}")
    return root


class GimpSession:
    """A work folder inside the chroot with a GIMP profile holding the installed plug-in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"jewel-retouch-gimp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.host_dir = root / "tmp" / self.name
        self.chroot_dir = Path("/tmp") / self.name
        self.host_dir.mkdir(parents=True)
        self.profile = self.host_dir / "profile"
        self._install_plugin()
        self._fast_start()

    def _install_plugin(self) -> None:
        # Through the real installer: it must give the plug-in its run bit.
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "server",
                "install",
                "gimp",
                "--gimp",
                "3",
                "--profile",
                str(self.profile),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def _fast_start(self) -> None:
        # Only the user plug-ins plus the two system ones the batch needs: a cold start then
        # takes a few seconds instead of ~10 (every system plug-in would be queried).
        system = self.host_dir / "system-plug-ins"
        system.mkdir()
        for name in ("python-eval", "file-png"):
            (system / name).symlink_to(f"{GIMP_PLUGIN_DIR}/{name}")
        chroot_profile = self.chroot_dir / "profile"
        (self.profile / "gimprc").write_text(
            f'(plug-in-path "{chroot_profile}/plug-ins:{self.chroot_dir}/system-plug-ins")\n'
        )

    def host_path(self, chroot_path: str | Path) -> Path:
        return self.root / Path(chroot_path).relative_to("/")

    def chroot_path(self, host_path: Path) -> Path:
        return Path("/") / host_path.relative_to(self.root)

    def new_dir(self, name: str) -> Path:
        path = self.host_dir / name
        path.mkdir()
        return path

    def run_batch(
        self, spec: dict, config_dir: Path, out_dir: Path, display: str | None = None
    ) -> list[dict]:
        """Run the scenarios in one GIMP launch; returns the batch report.

        Each scenario's progress texts come back in its "progress" entry. `display`: an X
        display (see the `xvfb` fixture) for scenarios that open the plug-in's dialog, which
        the plug-in then shows, describes and answers as the scenario's "dialog" says.
        """
        progress_log = out_dir / "progress.log"
        dialog_script = out_dir / "dialog.json"
        spec = dict(
            spec,
            out_dir=str(self.chroot_path(out_dir)),
            progress_log=str(self.chroot_path(progress_log)),
            dialog_script=str(self.chroot_path(dialog_script)),
        )
        spec_path = out_dir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        batch = out_dir / "batch.py"
        shutil.copyfile(BATCH_SCRIPT, batch)
        command = [
            "chroot",
            str(self.root),
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            f"HOME={self.chroot_dir}",
            "LANG=C.UTF-8",
            f"GIMP3_DIRECTORY={self.chroot_dir / 'profile'}",
            f"JEWEL_RETOUCH_CONFIG_DIR={config_dir}",
            f"JEWEL_BATCH_SPEC={self.chroot_path(spec_path)}",
            f"JEWEL_RETOUCH_PROGRESS_LOG={self.chroot_path(progress_log)}",
            f"JEWEL_RETOUCH_DIALOG_SCRIPT={self.chroot_path(dialog_script)}",
            *([f"DISPLAY={display}"] if display else []),
            # With a display, GIMP itself (its window on the virtual screen): the plug-in's
            # dialog then sits on a real GIMP window, as on a person's desktop.
            *(["gimp-3.0"] if display else ["gimp-console-3.0", "-i"]),
            "-n",
            "--batch-interpreter",
            "python-fu-eval",
            "-b",
            f"exec(open('{self.chroot_path(batch)}').read())",
            "--quit",
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=GIMP_TIMEOUT)
        except subprocess.TimeoutExpired as error:
            pytest.fail(f"GIMP did not finish within {GIMP_TIMEOUT} s: {error}")
        report_path = out_dir / "report.json"
        if done.returncode != 0 or not report_path.exists():
            pytest.fail(
                f"GIMP batch failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
                f"{done.stderr[-6000:]}"
            )
        self.last_log = done.stderr
        return json.loads(report_path.read_text())

    def close(self) -> None:
        shutil.rmtree(self.host_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def xvfb(gimp3_root: Path) -> Iterator[str]:
    """A virtual X display inside the chroot (Xvfb), for runs that open the plug-in's dialog."""
    import time

    socket_dir = gimp3_root / "tmp" / ".X11-unix"
    number = next(n for n in range(90, 200) if not (socket_dir / f"X{n}").exists())
    process = subprocess.Popen(
        [
            "chroot",
            str(gimp3_root),
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            "Xvfb",
            f":{number}",
            "-screen",
            "0",
            "1280x1024x24",
            "-nolisten",
            "tcp",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (socket_dir / f"X{number}").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Xvfb did not start in the chroot: {process.stderr.read()!r}")
        time.sleep(0.1)
    yield f":{number}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def gimp_session(gimp3_root: Path) -> Iterator[GimpSession]:
    session = GimpSession(gimp3_root)
    yield session
    session.close()


@pytest.fixture(scope="session")
def gimp_server(gimp_session: GimpSession) -> Iterator:
    """A real `jewel-retouch serve` whose token folder GIMP in the chroot can read.

    The pixel limit is low (0.05 MP) so the "image over the limit" case needs no huge layer.
    """
    from server.testing import run_server

    with run_server(
        gimp_session.host_dir / "server", max_megapixels=0.05, startup_timeout=SERVER_START_S
    ) as server:
        yield server


@pytest.fixture(scope="session")
def chroot_config_dir(gimp_session: GimpSession, gimp_server) -> Path:
    """The server's token folder as GIMP (inside the chroot) sees it."""
    return gimp_session.chroot_path(Path(gimp_server.config_dir))


@pytest.fixture(scope="session")
def retouch_via_http(gimp_server) -> Callable:
    """The server's own answer for raw pixels: the reference the plug-in must match."""
    import io
    import zipfile

    import numpy as np
    import requests

    def answer(pixels: np.ndarray, layers: bool = False, options: dict | None = None):
        height, width, channels = pixels.shape
        depth = 8 if pixels.dtype == np.uint8 else 16
        headers = dict(gimp_server.auth_headers)
        headers.update(
            {
                "Content-Type": "application/octet-stream",
                "X-Width": str(width),
                "X-Height": str(height),
                "X-Channels": str(channels),
                "X-Depth": str(depth),
            }
        )
        if layers:
            headers["X-Layers"] = "1"
        if options:
            headers["X-Options"] = json.dumps(options)
        data = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
        response = requests.post(
            gimp_server.http_url + "/v1/retouch", data=data, headers=headers, timeout=120
        )
        assert response.status_code == 200, response.text
        if not layers:
            dtype = np.uint8 if depth == 8 else np.dtype("<u2")
            return np.frombuffer(response.content, dtype).reshape(height, width, channels)
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        manifest = json.loads(archive.read("manifest.json"))
        parts = {}
        for part in manifest["parts"]:
            dtype = np.uint8 if part["depth"] == 8 else np.dtype("<u2")
            raw = np.frombuffer(archive.read(part["file"]), dtype)
            parts[part["name"]] = (part, raw.reshape(manifest["height"], manifest["width"], -1))
        return parts

    return answer


class FakeServer:
    """A stand-in jewel-retouch server for what the real one cannot be made to do on demand:
    warnings on every answer, and damaged answers. HTTP only (its /v1/info publishes no
    WebSocket URL, so the client posts). It echoes the pixels it gets; with `X-Layers` it
    answers a layers archive (image, one "background" layer, "piece" and "metal" masks).

    `warnings`: what it reports (X-Retouch-Warnings header and the manifest's info.warnings);
    `broken_mask`: the name of a mask sent one byte short (the insert then fails mid-way).
    """

    WARNINGS = [
        {"code": "background_kept", "message": "Background kept (fake server)."},
        {"code": "low_resolution", "message": "The photo is small (fake server)."},
    ]

    def __init__(self) -> None:
        import http.server
        import threading

        self.warnings = list(self.WARNINGS)
        self.broken_mask: str | None = None
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"options": [], "limits": {}, "websocket": {}}).encode()
                self._send(200, "application/json", body, {})

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send(200, *fake.answer(dict(self.headers), data))

            def _send(self, status, kind, body, headers):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, headers: dict, data: bytes) -> tuple[str, bytes, dict]:
        import io
        import zipfile

        width, height = int(headers["X-Width"]), int(headers["X-Height"])
        channels, depth = int(headers["X-Channels"]), int(headers["X-Depth"])
        extra = {"X-Retouch-Warnings": json.dumps(self.warnings)}
        if headers.get("X-Layers") != "1":
            extra.update(
                {"X-Width": str(width), "X-Height": str(height)},
                **{"X-Channels": str(channels), "X-Depth": str(depth)},
            )
            return "application/octet-stream", data, extra
        size = depth // 8
        rgba = (
            data
            if channels == 4
            else b"".join(
                data[i : i + 3 * size] + b"\xff" * size for i in range(0, len(data), 3 * size)
            )
        )
        parts = [
            ("image", "image", "image.raw", channels, data),
            ("background", "layer", "layers/background.raw", 4, rgba),
        ]
        for index, name in enumerate(("piece", "metal")):
            mask = bytes([(index + 1) * 60]) * (width * height)
            if name == self.broken_mask:
                mask = mask[:-1]
            parts.append((name, "mask", f"masks/{name}.raw", 1, mask))
        manifest = {
            "width": width,
            "height": height,
            "channels": channels,
            "depth": depth,
            "format": "raw",
            "parts": [
                {
                    "name": n,
                    "kind": k,
                    "file": f,
                    "channels": c,
                    "depth": 8 if k == "mask" else depth,
                }
                for n, k, f, c, _ in parts
            ],
            "info": {"warnings": self.warnings},
        }
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest))
            for _, _, name, _, body in parts:
                archive.writestr(name, body)
        return "application/zip", out.getvalue(), extra

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def fake_server_factory() -> Iterator[Callable[..., FakeServer]]:
    """make(warnings=..., broken_mask=...) -> a running FakeServer (all closed at the end)."""
    made: list[FakeServer] = []

    def make(**settings) -> FakeServer:
        server = FakeServer()
        for name, value in settings.items():
            setattr(server, name, value)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def fake_server(fake_server_factory) -> FakeServer:
    return fake_server_factory()
