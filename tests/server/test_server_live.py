"""A real `jewel-retouch serve` process on free ports: HTTP and the WebSocket job channel."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from server.imageio import read_image
from server.protocol import ResultReader
from server.testing import run_server

# Seconds a `jewel-retouch serve` may take to start: generous, for a busy machine.
SERVER_START_S = 300

SLOW = "server.testing:slow_model"
REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def ws_session(srv):
    with connect(srv.ws_url, max_size=None, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "token": srv.token, "client": "pytest/1"}))
        ready = json.loads(ws.recv(timeout=10))
        assert ready["type"] == "ready", ready
        yield ws


def send_job(ws, job_id, data: bytes, frame: int = 1 << 20, **fields):
    header = {"type": "job", "id": job_id, "bytes": len(data), "options": {}, "layers": False}
    header.update(fields)
    ws.send(json.dumps(header))
    view = memoryview(data)
    for start in range(0, len(view), frame):
        ws.send(view[start : start + frame])


def collect(ws, timeout=60):
    """Messages until done/error/cancelled; returns (messages, ResultReader or None)."""
    messages, reader = [], None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = ws.recv(timeout=timeout)
        if isinstance(item, bytes):
            assert reader is not None, "binary frame before a result header"
            reader.feed(item)
            continue
        message = json.loads(item)
        messages.append(message)
        if message["type"] == "result":
            reader = ResultReader(message)
        if message["type"] in ("done", "error", "cancelled"):
            return messages, reader
    raise AssertionError(f"no end of job: {messages}")


def raw_job_fields(px):
    h, w, c = px.shape
    return {
        "format": "raw",
        "width": w,
        "height": h,
        "channels": c,
        "depth": 8 if px.dtype == np.uint8 else 16,
    }


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with run_server(tmp_path_factory.mktemp("srv"), startup_timeout=SERVER_START_S) as server:
        yield server


def test_token_file_is_private_and_token_command_prints_it(srv):
    path = srv.config_dir / "token"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600
    assert len(srv.token) == 43
    env = {**os.environ, "JEWEL_RETOUCH_CONFIG_DIR": str(srv.config_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "server", "token"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.strip() == srv.token


def test_serve_prints_the_web_page_link_with_the_token(srv):
    # The page reads the token from the URL fragment; the link must name this server and token.
    assert f"web page: {srv.http_url}/#token={srv.token}" in srv.log()


def test_http_health_info_and_raw_round_trip(srv, img):
    assert requests.get(srv.http_url + "/v1/health", timeout=10).json()["status"] == "ok"
    assert requests.get(srv.http_url + "/v1/info", timeout=10).status_code == 401
    info = requests.get(srv.http_url + "/v1/info", headers=srv.auth_headers, timeout=10).json()
    assert info["websocket"]["url"] == srv.ws_url
    px = img.pixels(30, 40, 4, 16)
    response = requests.post(
        srv.http_url + "/v1/retouch",
        data=px.astype("<u2").tobytes(),
        headers={**srv.auth_headers, **img.raw_headers(40, 30, 4, 16)},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Depth"] == "16" and len(response.content) == px.nbytes


def test_http_png_keeps_format_and_profile(srv, img):
    px = img.pixels(16, 16, 4, 8)
    data = img.pil_encode(px, "PNG", icc=img.other())
    response = requests.post(
        srv.http_url + "/v1/retouch",
        data=data,
        headers={**srv.auth_headers, "Content-Type": "image/png"},
        timeout=60,
    )
    assert response.status_code == 200
    image, info = read_image(response.content)
    assert info.format == "png" and info.channels == 4 and image.icc_profile == img.other()


def test_http_host_and_origin_are_checked_on_the_real_server(srv):
    r = requests.get(srv.http_url + "/v1/health", headers={"Host": "rebind.example"}, timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = requests.get(
        srv.http_url + "/v1/info",
        headers={**srv.auth_headers, "Origin": "https://evil.example"},
        timeout=10,
    )
    assert r.status_code == 403


def test_ws_raw_job_streams_progress_and_result(srv, img):
    px = img.pixels(300, 500, 4, 16, seed=9)
    with ws_session(srv) as ws:
        send_job(ws, "c-1", px.astype("<u2").tobytes(), frame=123_457, **raw_job_fields(px))
        messages, reader = collect(ws)
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "accepted" and messages[0]["id"] == "c-1"
    assert "progress" in kinds and kinds[-2:] == ["result", "done"]
    result = messages[-2]
    assert (result["width"], result["height"], result["channels"], result["depth"]) == (
        500,
        300,
        4,
        16,
    )
    assert reader.complete
    image = np.frombuffer(reader.by_name()["image"][1], "<u2").reshape(px.shape)
    assert image.shape == px.shape  # the real model may change values, never the layout


def test_ws_encoded_job_and_several_jobs_on_one_connection(srv, img):
    px = img.pixels(20, 30, 3, 8)
    data = img.pil_encode(px, "JPEG", icc=img.srgb())
    with ws_session(srv) as ws:
        for n in range(2):
            send_job(ws, f"e-{n}", data, format="jpeg")
            messages, reader = collect(ws)
            assert messages[-1]["type"] == "done", messages
            assert messages[-2]["format"] == "jpeg"
            image, info = read_image(reader.by_name()["image"][1])
            assert info.format == "jpeg" and image.icc_profile == img.srgb()


def test_ws_wrong_token_is_closed_with_4401(srv):
    with connect(srv.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "token": "nope", "client": "x"}))
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and error["code"] == "unauthorized"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 4401


def test_ws_first_message_must_be_hello(srv):
    with connect(srv.ws_url, open_timeout=10) as ws:
        ws.send(b"\x00" * 10)
        assert json.loads(ws.recv(timeout=10))["code"] == "bad_request"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)


def test_ws_foreign_origin_and_host_are_refused_at_the_handshake(srv):
    with pytest.raises(InvalidStatus) as refused:
        connect(srv.ws_url, origin="https://evil.example", open_timeout=10)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        connect(srv.ws_url, additional_headers={"Host": "rebind.example"}, open_timeout=10)
    assert refused.value.response.status_code == 403


def test_ws_bad_header_is_answered_and_its_data_ignored(srv, img):
    px = img.pixels(10, 10, 4, 8)
    with ws_session(srv) as ws:
        # 3 vs 4 channels: declared bytes do not add up -> error, no data read.
        send_job(ws, "bad", px.tobytes(), **{**raw_job_fields(px), "channels": 3})
        error = json.loads(ws.recv(timeout=10))
        assert error == {**error, "type": "error", "id": "bad", "code": "invalid_pixels"}
        send_job(ws, "opt", px.tobytes(), options={"strength": 9}, **raw_job_fields(px))
        assert json.loads(ws.recv(timeout=10))["code"] == "invalid_options"
        ws.send("not json")
        assert json.loads(ws.recv(timeout=10))["code"] == "bad_request"
        send_job(ws, "good", px.tobytes(), **raw_job_fields(px))
        messages, _ = collect(ws)
        assert messages[-1] == {**messages[-1], "type": "done", "id": "good"}


def test_ws_more_bytes_than_declared_is_an_error(srv, img):
    px = img.pixels(10, 10, 4, 8)
    with ws_session(srv) as ws:
        ws.send(json.dumps({"type": "job", "id": "x", "bytes": px.nbytes, **raw_job_fields(px)}))
        assert json.loads(ws.recv(timeout=10))["type"] == "accepted"
        ws.send(px.tobytes() + b"extra")
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and error["code"] == "invalid_pixels"


@pytest.mark.slow
def test_ws_hundreds_of_megabytes(srv):
    """A 200 MB 16-bit RGBA image (5000 x 5000) in 1 MiB frames, and back."""
    h, w = 5000, 5000
    px = np.empty((h, w, 4), np.uint16)
    px[..., 0] = np.arange(w, dtype=np.uint16)[None, :]
    px[..., 1] = np.arange(h, dtype=np.uint16)[:, None]
    px[..., 2] = 1234
    px[..., 3] = 65535
    with ws_session(srv) as ws:
        send_job(ws, "big", px.tobytes(), **raw_job_fields(px))
        messages, reader = collect(ws, timeout=300)
    assert messages[-1]["type"] == "done", messages[-3:]
    part = reader.by_name()["image"]
    assert part[0]["bytes"] == 200_000_000
    assert len(part[1]) == 200_000_000


# ---------------------------------------------------------------------------------------------
# Cancellation, disconnect and queue full (slow model, own servers)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def slow_srv(tmp_path):
    # ~30 s a job unless stopped: far longer than any cancel may take, even on a busy machine.
    env = {"JEWEL_RETOUCH_SLOW_STEPS": "3000", "JEWEL_RETOUCH_SLOW_DELAY": "0.01"}
    with run_server(
        tmp_path, model=SLOW, workers=1, queue_size=0, env=env, startup_timeout=SERVER_START_S
    ) as server:
        yield server


def _wait_for_progress(ws, job_id):
    while True:
        message = json.loads(ws.recv(timeout=30))
        assert message["type"] in ("accepted", "progress"), message
        if message["type"] == "progress" and message["fraction"] > 0:
            return


def accepts_a_job_within(srv, px, seconds: float) -> bool:
    """Whether `srv` (one worker, no queue) takes a new job within `seconds`: its worker is
    free. The probe job is cancelled at once, so checking costs no job's run time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with ws_session(srv) as ws:
            send_job(ws, "probe", px.tobytes(), **raw_job_fields(px))
            answer = json.loads(ws.recv(timeout=30))
            if answer["type"] == "accepted":
                ws.send(json.dumps({"type": "cancel", "id": "probe"}))
                assert collect(ws)[0][-1]["type"] == "cancelled"
                return True
            assert answer["type"] == "error" and answer["code"] == "queue_full", answer
        time.sleep(0.1)
    return False


def test_ws_cancel_stops_the_running_job(slow_srv, img):
    px = img.pixels(8, 8, 4, 8)
    with ws_session(slow_srv) as ws:
        send_job(ws, "c", px.tobytes(), **raw_job_fields(px))
        _wait_for_progress(ws, "c")
        sent = time.monotonic()
        ws.send(json.dumps({"type": "cancel", "id": "c"}))
        messages, reader = collect(ws, timeout=30)
        assert messages[-1] == {"type": "cancelled", "id": "c"}
        assert reader is None
        assert time.monotonic() - sent < 15.0  # not the ~30 s the job would take
        # The worker is free again: the same connection runs the next job.
        send_job(ws, "d", px.tobytes(), **raw_job_fields(px))
        assert json.loads(ws.recv(timeout=10))["type"] == "accepted"
        ws.send(json.dumps({"type": "cancel", "id": "d"}))
        messages, _ = collect(ws, timeout=30)
        assert messages[-1]["type"] == "cancelled"


def test_ws_disconnect_cancels_its_job(slow_srv, img):
    px = img.pixels(8, 8, 4, 8)
    with ws_session(slow_srv) as ws:
        send_job(ws, "gone", px.tobytes(), **raw_job_fields(px))
        _wait_for_progress(ws, "gone")
    # The connection is closed now.
    # queue_size=0 and one worker: had the job kept running, the server would refuse jobs
    # (queue_full) for the next ~30 s. It must accept a new job well before.
    assert accepts_a_job_within(slow_srv, px, 15.0)


def test_ws_queue_full_is_an_error_with_retry_after(slow_srv, img):
    px = img.pixels(8, 8, 4, 8)
    with ws_session(slow_srv) as first, ws_session(slow_srv) as second:
        send_job(first, "a", px.tobytes(), **raw_job_fields(px))
        _wait_for_progress(first, "a")
        send_job(second, "b", px.tobytes(), **raw_job_fields(px))
        error = json.loads(second.recv(timeout=10))
        assert error["type"] == "error" and error["code"] == "queue_full"
        assert error["retry_after"] >= 1
        r = requests.post(
            slow_srv.http_url + "/v1/retouch?width=8&height=8&channels=4&depth=8",
            data=px.tobytes(),
            headers={**slow_srv.auth_headers, "Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        first.send(json.dumps({"type": "cancel", "id": "a"}))
        assert collect(first)[0][-1]["type"] == "cancelled"


def test_ws_layers_come_back_as_parts(slow_srv, img):
    px = img.pixels(6, 7, 3, 16)
    with ws_session(slow_srv) as ws:
        send_job(ws, "l", px.astype("<u2").tobytes(), layers=True, **raw_job_fields(px))
        messages, reader = collect(ws, timeout=60)
    assert messages[-1]["type"] == "done"
    parts = reader.by_name()
    assert [p["name"] for p in messages[-2]["parts"]] == ["image", "tone", "piece"]
    np.testing.assert_array_equal(np.frombuffer(parts["image"][1], "<u2").reshape(px.shape), px)
    assert parts["tone"][0]["channels"] == 4 and parts["tone"][0]["depth"] == 16
    assert parts["piece"][0] == {**parts["piece"][0], "kind": "mask", "channels": 1, "depth": 8}
    assert parts["piece"][1] == b"\xff" * 42


# ---------------------------------------------------------------------------------------------
# Process-level behaviour
# ---------------------------------------------------------------------------------------------


def test_garbage_on_the_sockets_does_not_hurt_the_server(srv):
    for url in (srv.http_url, srv.ws_url):
        host, port = url.split("//")[1].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01 definitely not http\r\n\r\n" + os.urandom(512))
            try:
                sock.recv(1024)
            except OSError:
                pass
    assert requests.get(srv.http_url + "/v1/health", timeout=10).status_code == 200


def test_non_loopback_bind_needs_the_explicit_flag(tmp_path):
    env = {**os.environ, "JEWEL_RETOUCH_CONFIG_DIR": str(tmp_path)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--ws-port",
            "0",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--allow-remote" in out.stderr


def local_ipv4_addresses() -> list[str]:
    """This machine's IPv4 addresses outside 127.0.0.0/8 (Linux: SIOCGIFADDR per interface)."""
    import fcntl
    import ipaddress
    import struct

    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                answer = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
            except OSError:  # an interface without an IPv4 address
                continue
            address = socket.inet_ntoa(answer[20:24])
            if not ipaddress.ip_address(address).is_loopback:
                found.append(address)
    return found


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the IPv4 sockets LISTENing on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: TCP_LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_the_default_bind_is_loopback_only(srv):
    for url in (srv.http_url, srv.ws_url):
        port = int(url.rsplit(":", 1)[1])
        assert listening_addresses(port) == {"127.0.0.1"}
        with pytest.raises(ConnectionRefusedError):  # another loopback address: not bound
            socket.create_connection(("127.0.0.2", port), timeout=10).close()


def test_allow_remote_binds_all_interfaces(tmp_path):
    with run_server(
        tmp_path, host="0.0.0.0", allow_remote=True, startup_timeout=SERVER_START_S
    ) as server:
        http_port = int(server.http_url.rsplit(":", 1)[1])
        ws_port = int(server.ws_url.rsplit(":", 1)[1])
        assert listening_addresses(http_port) == {"0.0.0.0"}
        assert listening_addresses(ws_port) == {"0.0.0.0"}
        # Reached through another interface's address (Host: that address), as a machine on
        # the LAN would; 127.0.0.2 is refused by a 127.0.0.1 bind, so it proves the bind too
        # on a machine whose only interface is loopback.
        for address in [*local_ipv4_addresses(), "127.0.0.2"]:
            r = requests.get(f"http://{address}:{http_port}/v1/health", timeout=10)
            assert r.status_code == 200 and r.json()["status"] == "ok", address
            with socket.create_connection((address, ws_port), timeout=10):
                pass


def test_stalled_upload_is_cut_off_and_the_server_keeps_serving(srv):
    host, port = srv.http_url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            "POST /v1/retouch?width=100&height=100&channels=4&depth=8 HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {srv.token}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 40000\r\n\r\n"
        )
        sock.sendall(head.encode() + b"\x00" * 1000)  # then nothing more
        assert requests.get(srv.http_url + "/v1/health", timeout=10).status_code == 200
        with ws_session(srv) as ws:  # other clients are served meanwhile
            px = np.zeros((4, 4, 4), np.uint8)
            send_job(ws, "meanwhile", px.tobytes(), **raw_job_fields(px))
            assert collect(ws)[0][-1]["type"] == "done"


def test_stalled_uploads_are_dropped_after_the_upload_timeout(tmp_path, img):
    with run_server(
        tmp_path, upload_timeout=1, max_body_mb=1, startup_timeout=SERVER_START_S
    ) as server:
        px = img.pixels(100, 100, 4, 8)  # 40 kB
        with ws_session(server) as ws:
            ws.send(
                json.dumps({"type": "job", "id": "s", "bytes": px.nbytes, **raw_job_fields(px)})
            )
            assert json.loads(ws.recv(timeout=10))["type"] == "accepted"
            ws.send(px.tobytes()[:1000])  # then nothing
            error = json.loads(ws.recv(timeout=10))
            assert error["type"] == "error" and error["id"] == "s" and "upload" in error["message"]
            # Its reservation is gone: a job using the whole budget is accepted again.
            big = img.pixels(500, 500, 4, 8)  # 1 MB = the upload limit = half the budget
            send_job(ws, "after", big.tobytes(), **raw_job_fields(big))
            assert collect(ws)[0][-1]["type"] == "done"
        host, port = server.http_url.split("//")[1].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            head = (
                "POST /v1/retouch?width=100&height=100&channels=4&depth=8 HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: 40000\r\n\r\n"
            )
            sock.sendall(head.encode() + b"\x00" * 1000)
            received = b""
            while chunk := sock.recv(4096):  # until the server closes
                received += chunk
            answer = received.decode("latin-1")
        assert answer.startswith("HTTP/1.1 400") and "stalled" in answer


def test_http_client_hanging_up_cancels_its_job(slow_srv, img):
    px = img.pixels(8, 8, 4, 8)
    url = slow_srv.http_url + "/v1/retouch?width=8&height=8&channels=4&depth=8"
    headers = {**slow_srv.auth_headers, "Content-Type": "application/octet-stream"}
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(url, data=px.tobytes(), headers=headers, timeout=1.0)  # gives up, closes
    # queue_size=0: had the ~30 s job kept running, jobs would be refused for that long.
    assert accepts_a_job_within(slow_srv, px, 15.0)


def test_ws_metal_variants_come_back_as_variant_parts(srv, img):
    px = img.pixels(30, 40, 4, 8)
    options = {"metal_variants": ["silver", "rose_gold"]}
    with ws_session(srv) as ws:
        send_job(ws, "v", px.tobytes(), options=options, **raw_job_fields(px))
        messages, reader = collect(ws, timeout=120)
    assert messages[-1]["type"] == "done", messages[-1]
    listed = [(p["name"], p["kind"]) for p in messages[-2]["parts"]]
    assert listed == [("image", "image"), ("silver", "variant"), ("rose_gold", "variant")]
    parts = reader.by_name()
    for name in ("silver", "rose_gold"):
        header, data = parts[name]
        assert (header["width"], header["height"], header["channels"]) == (40, 30, 4)
        assert len(data) == px.nbytes
    assert messages[-1]["info"]["variants"] == ["silver", "rose_gold"]
