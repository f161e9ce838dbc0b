"""Security and robustness regressions, probed against a real `jewel-retouch serve` process
(issue 12): every probe here once found a defect. Bounds are generous and waits poll with
deadlines, so a busy CI machine does not make them flaky."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import requests

from server.testing import (
    REPO_ROOT,
    close_code,
    hello,
    host_port,
    raw_job,
    raw_ws,
    read_json,
    run_server,
    send_frame,
)

IDENTITY = "server.testing:identity_model"
SLOW = "server.testing:slow_model"


def http_raw(url: str, request: bytes) -> bytes:
    """Send bytes as they are; the whole answer (until the server closes or 10 s pass)."""
    with socket.create_connection(host_port(url), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        with contextlib.suppress(socket.timeout, ConnectionError):
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
    return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def json_body(answer: bytes) -> dict:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), head
    return json.loads(body)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hardening")
    with run_server(tmp, model=IDENTITY, max_megapixels=1, queue_size=16) as server:
        yield server


def _raw_headers(w: int, h: int, c: int = 3) -> dict[str, str]:
    return {
        "Content-Type": "application/octet-stream",
        "X-Width": str(w),
        "X-Height": str(h),
        "X-Channels": str(c),
        "X-Depth": "8",
    }


# --- 1. the framing canvas is inside the limits -------------------------------------------


def test_framing_canvas_over_max_megapixels_is_refused_over_http_and_ws(srv):
    options = json.dumps({"framing": "square", "canvas_size": 10000})
    headers = {**srv.auth_headers, **_raw_headers(20, 20), "X-Options": options}
    response = requests.post(
        srv.http_url + "/v1/retouch", data=b"\0" * 1200, headers=headers, timeout=60
    )
    assert response.status_code == 413 and "framing" in response.json()["error"]["message"]
    with raw_ws(srv.ws_url) as (sock, status):
        assert " 101 " in status
        assert hello(sock, srv.token)["type"] == "ready"
        raw_job(sock, np.zeros((20, 20, 3), np.uint8), options=json.loads(options))
        error = read_json(sock)
        assert error["type"] == "error" and error["code"] == "too_large"


# --- 2. chunked uploads are bounded ------------------------------------------------------------


def test_chunked_upload_past_the_body_limit_gets_a_json_413(tmp_path):
    with run_server(tmp_path, model=IDENTITY, max_body_mb=0.01) as server:
        chunk = b"\0" * 4096
        body = b"".join(b"1000\r\n" + chunk + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
        request = (
            "POST /v1/retouch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {server.token}\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/octet-stream\r\nX-Width: 128\r\nX-Height: 64\r\n"
            "X-Channels: 4\r\nX-Depth: 8\r\n\r\n"
        ).encode()
        answer = http_raw(server.http_url, request + body)
        assert answer.startswith(b"HTTP/1.1 413") or answer.startswith(b"HTTP/1.0 413"), answer
        assert json_body(answer)["error"]["code"] == "too_large"


# --- 3. loopback means loopback -------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.evil.example", "127.0.0.1.nip.io", "localhost.evil.example"])
def test_look_alike_hosts_are_refused_over_http_and_ws(srv, host):
    response = requests.get(
        srv.http_url + "/v1/info", headers={**srv.auth_headers, "Host": host}, timeout=30
    )
    assert response.status_code == 403
    with raw_ws(srv.ws_url, host_header=host) as (_, status):
        assert " 403 " in status


def test_two_host_headers_are_refused(srv):
    request = (
        "GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n"
        f"Authorization: Bearer {srv.token}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = http_raw(srv.http_url, request)
    assert b" 403 " in answer.split(b"\r\n", 1)[0]


def test_binding_a_name_that_starts_with_127_needs_allow_remote(tmp_path):
    env = dict(os.environ, JEWEL_RETOUCH_CONFIG_DIR=str(tmp_path), PYTHONPATH=str(REPO_ROOT))
    run = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--host", "127.evil.example", "--port", "0"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "--allow-remote" in run.stderr


# --- 7. nesting is bounded -------------------------------------------------------------------


def test_deeply_nested_json_gets_a_4xx_not_a_500(srv):
    nested = "[" * 5000 + "]" * 5000
    headers = {**srv.auth_headers, **_raw_headers(2, 2), "X-Options": nested}
    response = requests.post(
        srv.http_url + "/v1/retouch", data=b"\0" * 12, headers=headers, timeout=30
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_options"
    with raw_ws(srv.ws_url) as (sock, _):  # unauthenticated: an error and 4400, not 1011
        send_frame(sock, '{"type": "hello", "token": ' + "[" * 1000 + "]" * 1000 + "}")
        assert read_json(sock)["type"] == "error"
        assert close_code(sock) == 4400
    with raw_ws(srv.ws_url) as (sock, _):  # authenticated: an error, the session goes on
        hello(sock, srv.token)
        send_frame(sock, '{"type": "job", "options": ' + nested + "}")
        assert read_json(sock)["code"] == "bad_request"
        send_frame(sock, '{"type": "cancel", "id": "none"}')


def test_unauthenticated_frames_are_limited_to_a_hello(srv):
    with raw_ws(srv.ws_url) as (sock, _):
        send_frame(sock, b"\0" * 100_000)
        assert close_code(sock) == 1009  # message too big
    with raw_ws(srv.ws_url) as (sock, _):  # after the hello, megabytes are fine
        assert hello(sock, srv.token)["type"] == "ready"
        raw_job(sock, np.zeros((600, 600, 3), np.uint8))
        assert read_json(sock)["type"] == "accepted"


# --- 6. waiting in the queue has its own bound ---------------------------------------------


def test_queue_wait_has_its_own_bound(tmp_path):
    env = {"JEWEL_RETOUCH_SLOW_STEPS": "100", "JEWEL_RETOUCH_SLOW_DELAY": "0.05"}
    flags = {"model": SLOW, "queue_timeout": 1, "job_timeout": 600, "http_threads": 4}
    with run_server(tmp_path, env=env, **flags) as server:
        url = server.http_url + "/v1/retouch"
        headers = {**server.auth_headers, **_raw_headers(2, 2)}
        import threading

        first: list = []
        thread = threading.Thread(
            target=lambda: first.append(
                requests.post(url, data=b"\0" * 12, headers=headers, timeout=120)
            )
        )
        thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the first job runs
            info = requests.get(server.http_url + "/v1/info", headers=server.auth_headers).json()
            if info["queue"]["running"]:
                break
            time.sleep(0.1)
        second = requests.post(url, data=b"\0" * 12, headers=headers, timeout=120)
        assert second.status_code == 503, second.text
        assert second.json()["error"]["code"] == "queue_full"
        assert "waited" in second.json()["error"]["message"]
        thread.join(120)
        assert first[0].status_code == 200


# --- 8. clients that never read their result ------------------------------------------------


def test_clients_that_never_read_their_result_are_dropped(tmp_path):
    # 25 MB: far more than the buffers on the way can hold (kernel autotuning reaches ~8 MB)
    px = np.full((2500, 2500, 4), 7, np.uint8)
    flags = {"model": IDENTITY, "result_timeout": 2, "queue_size": 16}
    with run_server(tmp_path, **flags) as server:
        sockets = []
        with contextlib.ExitStack() as stack:
            for n in range(4):
                sock, _ = stack.enter_context(raw_ws(server.ws_url, rcvbuf=32 << 10))
                hello(sock, server.token)
                raw_job(sock, px, job_id=f"unread-{n}")
                sockets.append(sock)
            # Every job must have run and its result waited past the 2 s timeout: poll the
            # queue, then leave a generous margin (a busy machine is slow to get there).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                queue = requests.get(
                    server.http_url + "/v1/info", headers=server.auth_headers, timeout=30
                ).json()["queue"]
                if not queue["pending"] and not queue["running"]:
                    break
                time.sleep(0.2)
            time.sleep(10)
            for sock in sockets:  # now read: the server must have given up on us
                received, ended = 0, False
                sock.settimeout(5)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        chunk = sock.recv(1 << 20)
                    except (TimeoutError, ConnectionError):
                        ended = True
                        break
                    if not chunk:
                        ended = True
                        break
                    received += len(chunk)
                assert ended and received < px.nbytes, (received, server.log())
        # Still serving.
        assert requests.get(server.http_url + "/v1/health", timeout=30).status_code == 200


# --- hardening: a production HTTP server ----------------------------------------------------


def test_trickling_clients_do_not_hold_the_threads(tmp_path):
    with run_server(tmp_path, model=IDENTITY, http_threads=1) as server:
        host, port = host_port(server.http_url)
        tricklers = [socket.create_connection((host, port), timeout=10) for _ in range(6)]
        try:
            for sock in tricklers:
                sock.sendall(b"GET /v1/health HTTP/1.1\r\n")
            for _ in range(3):  # a byte every half second each, never a whole header
                for sock in tricklers:
                    sock.sendall(b"X")
                time.sleep(0.5)
                response = requests.get(server.http_url + "/v1/health", timeout=20)
                assert response.status_code == 200
        finally:
            for sock in tricklers:
                sock.close()


def test_every_error_reply_is_json(srv):
    auth = f"Authorization: Bearer {srv.token}\r\n".encode()
    cases = {
        b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n": 431,
        b"NOT HTTP AT ALL\r\n\r\n": 400,
        b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n": 404,
        b"DELETE /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n": 405,
        b"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n": 401,
        b"GET /v1//info HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + b"Connection: close\r\n\r\n": 308,
    }
    for request, status in cases.items():
        answer = http_raw(srv.http_url, request)
        assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == str(status).encode(), answer[:200]
        error = json_body(answer)["error"]
        assert error["code"] and error["message"]


def test_error_messages_hold_no_addresses_or_paths(srv):
    headers = {**srv.auth_headers, "Content-Type": "image/png"}
    broken = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    response = requests.post(srv.http_url + "/v1/retouch", data=broken, headers=headers)
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and "0x" not in message and "/" not in message


def test_the_token_never_reaches_the_log(srv):
    requests.get(srv.http_url + f"/v1/info?token={srv.token}", timeout=30)
    requests.get(srv.http_url + "/v1/nowhere?access_token=abc", headers=srv.auth_headers)
    deadline = time.monotonic() + 10
    while "/v1/nowhere" not in srv.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = srv.log()
    assert "/v1/info?..." in log and "/v1/nowhere?..." in log
    lines_with_token = [line for line in log.splitlines() if srv.token in line]
    assert lines_with_token == [f"web page: {srv.http_url}/#token={srv.token}"]


@pytest.mark.parametrize(
    "origin",
    ["isolated-app://x", "tauri://localhost", "capacitor://localhost", "vscode-webview://a"],
)
def test_web_view_origins_are_refused_like_web_pages(srv, origin):
    response = requests.get(
        srv.http_url + "/v1/info", headers={**srv.auth_headers, "Origin": origin}, timeout=30
    )
    assert response.status_code == 403
    with raw_ws(srv.ws_url, origin=origin) as (_, status):
        assert " 403 " in status


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize(
    ("content", "mode", "advice"),
    [("q" * 20 + "0123456789abcdefghijk", 0o644, "chmod 600"), ("password", 0o600, "too weak")],
)
def test_a_loose_or_weak_token_file_stops_the_server_with_the_fix(tmp_path, content, mode, advice):
    config = tmp_path / "jewel-retouch-config"
    config.mkdir()
    (config / "token").write_text(content + "\n")
    os.chmod(config / "token", mode)
    with pytest.raises(RuntimeError) as caught:
        with run_server(tmp_path, model=IDENTITY, startup_timeout=120):
            pass
    assert advice in str(caught.value)


def test_a_header_that_never_ends_is_dropped_at_the_deadline(tmp_path, monkeypatch):
    """One byte every 0.2 s keeps a connection active for ever; the header deadline ends it
    (in-process server, the 30 s deadline shortened)."""
    import server.http_server as http_server
    from server.config import ServerConfig
    from server.engine import Engine
    from server.runner import RunningServer
    from server.testing import identity_model

    monkeypatch.setattr(http_server, "HEADER_TIMEOUT", 1.0)
    config = ServerConfig(port=0, ws_port=0, token="x1y2z3" * 8, config_dir=tmp_path)
    running = RunningServer.start(config, engine=Engine(identity_model()))
    try:
        sock = socket.create_connection(("127.0.0.1", running.config.port), timeout=0.2)
        sock.sendall(b"GET /v1/health HTTP/1.1\r\n")
        deadline = time.monotonic() + 60
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                sock.sendall(b"X")
                closed = sock.recv(100) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        assert closed
        sock.close()
    finally:
        running.stop()
