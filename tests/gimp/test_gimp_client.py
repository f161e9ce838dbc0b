"""The plug-ins' stdlib client (gimp_plugin/jewel_retouch_client.py) on its own: token paths,
WebSocket framing, options, error messages, and jobs against a real server."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from server.testing import scripted_job

# Seconds a `jewel-retouch serve` may take to start: generous, for a busy machine.
SERVER_START_S = 300

REPO = Path(__file__).resolve().parents[2]
CLIENT_PATH = REPO / "gimp_plugin" / "jewel_retouch_client.py"
PLUGIN_FILES = [
    CLIENT_PATH,
    REPO / "gimp_plugin" / "gimp3" / "jewel-retouch.py",
    REPO / "gimp_plugin" / "gimp2" / "jewel_retouch_gimp2.py",
]


@pytest.fixture(scope="module")
def jrc():
    spec = importlib.util.spec_from_file_location("jewel_retouch_client_under_test", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from server.testing import run_server

    with run_server(
        tmp_path_factory.mktemp("client-server"), startup_timeout=SERVER_START_S
    ) as srv:
        yield srv



def test_plugin_files_are_ascii_and_python27_compatible():
    for path in PLUGIN_FILES:
        path.read_bytes().decode("ascii")  # GIMP has refused non-ASCII plug-in files
    shared = [str(CLIENT_PATH), str(PLUGIN_FILES[2])]
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("vermin")),  # installed by the dev extra
            "--no-tips",
            "--violations",
            "-t=2.7-",
            "-t=3.0-",
            *shared,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "platform, environ, expected",
    [
        ("linux", {}, "/home/u/.config/jewel-retouch/token"),
        ("linux", {"XDG_CONFIG_HOME": "/x"}, "/x/jewel-retouch/token"),
        ("darwin", {}, "/home/u/Library/Application Support/jewel-retouch/token"),
        ("win32", {"APPDATA": "/appdata"}, "/appdata/jewel-retouch/token"),
        ("win32", {}, "/home/u/AppData/Roaming/jewel-retouch/token"),
        ("darwin", {"JEWEL_RETOUCH_CONFIG_DIR": "/c"}, "/c/token"),
    ],
)
def test_token_path_follows_the_server_rules(jrc, platform, environ, expected, monkeypatch):
    assert jrc.token_path(environ, platform, "/home/u") == expected
    # The same answer as the server's own function on this OS.
    from server import config

    monkeypatch.setattr(config.sys, "platform", platform)
    for name in ("APPDATA", "XDG_CONFIG_HOME", "JEWEL_RETOUCH_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(config.Path, "home", staticmethod(lambda: Path("/home/u")))
    assert str(config.token_path()) == expected


def test_mask_payload_matches_the_rfc(jrc):
    data = os.urandom(1000003)
    key = b"\x01\x80\xfe\x33"
    naive = bytes(byte ^ key[index % 4] for index, byte in enumerate(data))
    assert jrc.mask_payload(data, key) == naive
    assert jrc.mask_payload(b"", key) == b""
    assert jrc.mask_payload(b"\x00\x00\x00\x00\x00", key) == key + key[:1]


def test_builtin_options_match_the_model_schema(jrc):
    """The plug-ins register one argument per built-in option: each must be one the model
    accepts, with the same type, default and range, and every choice must be valid."""
    from models.api import options_schema

    served = {spec["name"]: spec for spec in options_schema()}
    for spec in jrc.BUILTIN_OPTIONS:
        other = served[spec["name"]]
        for key in ("type", "default", "minimum", "maximum"):
            assert spec.get(key) == other.get(key), (spec["name"], key)
        assert set(spec.get("choices") or ()) <= set(other.get("choices") or ()), spec["name"]
    missing = set(served) - {spec["name"] for spec in jrc.BUILTIN_OPTIONS}
    assert not missing, f"options the GIMP plug-ins cannot pass yet: {missing}"


def test_options_from_values_coerces_and_refuses(jrc):
    schema = jrc.BUILTIN_OPTIONS
    options = jrc.options_from_values(
        schema, {"cleanup": 0, "strength": 1, "canvas_size": 3.0, "metal": "silver", "x": 1}
    )
    assert options == {"cleanup": False, "strength": 1.0, "canvas_size": 3, "metal": "silver"}
    with pytest.raises(jrc.RetouchError, match="one of"):
        jrc.options_from_values(schema, {"metal": "brass"})


def test_missing_token_says_how_to_get_one(jrc, tmp_path):
    with pytest.raises(jrc.RetouchError) as caught:
        jrc.read_token(str(tmp_path / "token"))
    assert "jewel-retouch serve" in caught.value.message


def test_websocket_job_reports_progress_and_matches_http(jrc, server):
    import requests

    pixels = np.random.default_rng(3).integers(0, 65536, (37, 53, 4), dtype=np.uint16)
    data = pixels.astype("<u2").tobytes()
    client = jrc.Client(server.http_url, token=server.token, timeout=60)
    info = client.info()
    assert info["websocket"]["url"].startswith("ws://")
    seen = []
    request = jrc.RetouchRequest(
        data,
        53,
        37,
        4,
        16,
        options={"strength": 0.5},
        progress=lambda stage, fraction: seen.append(fraction),
    )
    result = client.retouch(request)
    descriptor, body = result.part("image")
    assert (descriptor["width"], descriptor["height"], descriptor["depth"]) == (53, 37, 16)
    reference = requests.post(
        server.http_url + "/v1/retouch",
        data=data,
        timeout=60,
        headers={
            **server.auth_headers,
            "Content-Type": "application/octet-stream",
            "X-Width": "53",
            "X-Height": "37",
            "X-Channels": "4",
            "X-Depth": "16",
            "X-Options": '{"strength": 0.5}',
        },
    )
    assert reference.status_code == 200
    assert body == reference.content
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert all(0.0 <= f <= 1.0 for f in seen)


def test_large_upload_goes_in_many_frames(jrc, server):
    pixels = os.urandom(1200 * 900 * 3)  # 3.2 MB: four 1 MiB frames
    client = jrc.Client(server.http_url, token=server.token, timeout=60)
    result = client.retouch(jrc.RetouchRequest(pixels, 1200, 900, 3, 8))
    assert len(result.part("image")[1]) == len(pixels)


def test_cancel_from_progress(jrc, server):
    client = jrc.Client(server.http_url, token=server.token, timeout=60)
    with pytest.raises(jrc.Cancelled):
        client.retouch(
            jrc.RetouchRequest(os.urandom(64 * 64 * 4), 64, 64, 4, 8, progress=lambda s, f: False)
        )
    # The server is still fine afterwards.
    assert client.retouch(jrc.RetouchRequest(os.urandom(16 * 16 * 4), 16, 16, 4, 8)).part("image")[
        1
    ]


def test_http_fallback_with_layers(jrc, server):
    client = jrc.Client(server.http_url, token=server.token, timeout=60)
    info = dict(client.info())
    info["websocket"] = {}  # as if the server published no WebSocket channel
    pixels = os.urandom(20 * 10 * 4)
    result = client.retouch(jrc.RetouchRequest(pixels, 20, 10, 4, 8, layers=True, info=info))
    descriptor, body = result.part("image")
    assert descriptor["kind"] == "image" and len(body) == len(pixels)


@pytest.mark.parametrize("channel", ["websocket", "http"])
def test_metal_variants_come_back_as_parts_over_both_channels(jrc, server, channel):
    client = jrc.Client(server.http_url, token=server.token, timeout=60)
    info = dict(client.info())
    if channel == "http":
        info["websocket"] = {}
    pixels = os.urandom(20 * 10 * 3)
    options = {"metal_variants": ["white_gold", "silver"]}
    result = client.retouch(jrc.RetouchRequest(pixels, 20, 10, 3, 8, options=options, info=info))
    kinds = [(d["name"], d["kind"]) for d, _ in result.parts]
    assert kinds == [("image", "image"), ("white_gold", "variant"), ("silver", "variant")]
    assert all(len(body) == len(pixels) for _, body in result.parts)


def test_wrong_token_message(jrc, server):
    client = jrc.Client(server.http_url, token="wrong-" + "z" * 37, timeout=10)
    with pytest.raises(jrc.RetouchError) as caught:
        client.info()
    assert caught.value.code == "unauthorized"
    assert "refused the access token" in caught.value.message
    good = jrc.Client(server.http_url, token=server.token, timeout=10)
    info = good.info()
    with pytest.raises(jrc.RetouchError) as caught:  # the WebSocket hello is refused too
        client.retouch(jrc.RetouchRequest(b"\x00" * 16, 2, 2, 4, 8, info=info))
    assert caught.value.code == "unauthorized"


def test_server_down_message(jrc):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = jrc.Client(f"http://127.0.0.1:{port}", token="t", timeout=5)
    with pytest.raises(jrc.RetouchError) as caught:
        client.info()
    assert caught.value.code == "server_down"
    assert "jewel-retouch serve" in caught.value.message


def test_timeout_message_when_the_server_hangs(jrc):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    client = jrc.Client(f"http://127.0.0.1:{port}", token="t", timeout=0.5)
    try:
        with pytest.raises(jrc.RetouchError) as caught:
            client.info()
        assert caught.value.code == "timeout"
        assert "did not answer" in caught.value.message
    finally:
        thread.join(5)
        for connection, _ in accepted:
            connection.close()
        listener.close()


def test_bad_server_url(jrc):
    with pytest.raises(jrc.RetouchError, match="http://127.0.0.1:8765"):
        jrc.Client("ftp://example", token="t")


@pytest.fixture
def canned_server():
    """A local HTTP server answering every request with one canned status and JSON body."""
    import http.server
    import json

    answer = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = json.dumps(answer["body"]).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def set_answer(status, body):
        answer.update(status=status, body=body)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield set_answer
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    "status, code, phrase",
    [
        (500, "internal", "See the `jewel-retouch serve` window"),
        (504, "timeout", "longer job timeout"),
        (413, "too_large", "smaller region"),
        (503, "queue_full", "Try again in a moment"),
        (422, "invalid_options", "refused the options"),
    ],
)
def test_server_errors_say_what_to_do(jrc, canned_server, status, code, phrase):
    url = canned_server(status, {"error": {"code": code, "message": "details here."}})
    client = jrc.Client(url, token="t", timeout=10)
    info = {"limits": {}, "websocket": {}}  # force the HTTP path, which gets the canned error
    with pytest.raises(jrc.RetouchError) as caught:
        client.retouch(jrc.RetouchRequest(b"\x00" * 12, 2, 2, 3, 8, info=info))
    assert caught.value.code == code
    assert phrase in caught.value.message and "details here." in caught.value.message


def test_non_json_error_is_still_readable(jrc, canned_server):
    url = canned_server(502, "bad gateway")
    with pytest.raises(jrc.RetouchError) as caught:
        jrc.Client(url, token="t", timeout=10).info()
    assert "bad gateway" in caught.value.message


def test_warnings_come_from_the_http_header(jrc, fake_server):
    client = jrc.Client(fake_server.url, token="t", timeout=10)
    result = client.retouch(jrc.RetouchRequest(b"\x01" * 24, 3, 2, 4, 8))
    assert result.part("image")[1] == b"\x01" * 24
    assert result.warnings == fake_server.warnings


def test_warnings_come_from_the_layers_manifest(jrc, fake_server):
    fake_server.warnings = [{"code": "no_piece", "message": "No piece (fake)."}]
    client = jrc.Client(fake_server.url, token="t", timeout=10)
    result = client.retouch(jrc.RetouchRequest(b"\x01" * 24, 3, 2, 4, 8, layers=True))
    assert [d["name"] for d, _ in result.parts][:2] == ["image", "background"]
    assert result.warnings == fake_server.warnings  # in the header and the manifest: once


def test_no_warnings_is_an_empty_list(jrc, fake_server):
    fake_server.warnings = []
    client = jrc.Client(fake_server.url, token="t", timeout=10)
    assert client.retouch(jrc.RetouchRequest(b"\x01" * 24, 3, 2, 4, 8)).warnings == []
    assert jrc.warnings_text([]) == ""


def test_warnings_come_from_the_websocket_result_and_done(jrc):
    """A scripted job channel: `result` carries one warning, `done.info` that one and another."""
    import json

    from websockets.sync.server import serve

    first = {"code": "background_kept", "message": "Background kept (ws)."}
    second = {"code": "overexposed", "message": "Overexposed (ws)."}

    def session(ws):
        job, received = scripted_job(ws)
        part = {"name": "image", "kind": "image", "channels": 4, "depth": 8, "bytes": len(received)}
        ws.send(
            json.dumps(
                {
                    "type": "result",
                    "id": job["id"],
                    "width": 3,
                    "height": 2,
                    "channels": 4,
                    "depth": 8,
                    "parts": [part],
                    "warnings": [first],
                }
            )
        )
        ws.send(received)
        info = {"warnings": [first, second]}
        ws.send(json.dumps({"type": "done", "id": job["id"], "info": info}))

    with serve(session, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        client = jrc.Client("http://127.0.0.1:1", token="t", timeout=10)
        info = {"limits": {}, "websocket": {"url": f"ws://127.0.0.1:{port}"}}
        result = client.retouch(jrc.RetouchRequest(b"\x07" * 24, 3, 2, 4, 8, info=info))
        server.shutdown()
    assert result.part("image")[1] == b"\x07" * 24
    assert result.warnings == [first, second]
    text = jrc.warnings_text(result.warnings)
    assert text.startswith("Jewel retouch finished with 2 warnings:")
    assert "- Background kept (ws)." in text and "- Overexposed (ws)." in text


def test_malformed_warnings_never_fail_a_retouch(jrc):
    good = {"code": "no_piece", "message": "No piece."}
    assert jrc.collect_warnings(
        "not json", '[{"code": "x"}]', [1, None, {"message": "no code"}], [good, good], None
    ) == [good]


def test_number_display_shows_defaults_and_ranges_whole(jrc):
    by_name = {spec["name"]: spec for spec in jrc.BUILTIN_OPTIONS}
    digits, width = jrc.number_display(by_name["margin"])
    assert f"{0.075:.{digits}f}" == "0.075"
    assert width > len("0.450")  # the widest value, plus room for the cursor
    for spec in jrc.BUILTIN_OPTIONS:
        if spec["type"] != "number":
            continue
        digits, width = jrc.number_display(spec)
        for key in ("default", "minimum", "maximum"):
            shown = f"{spec[key]:.{digits}f}"
            assert float(shown) == spec[key], (spec["name"], key, shown)
            assert len(shown) < width, (spec["name"], shown, width)


def test_progress_text_names_the_stage_and_counts_seconds(jrc):
    assert jrc.progress_text("upload") == "Jewel retouch: sending the pixels..."
    assert jrc.progress_text("waiting", 0.4) == "Jewel retouch: waiting for the server..."
    assert jrc.progress_text("waiting", 7.9) == "Jewel retouch: waiting for the server (7 s)..."
    assert jrc.progress_text("gem_mask", 2) == "Jewel retouch: gem mask (2 s)..."


def test_unreachable_note_names_the_url_and_the_command(jrc):
    client = jrc.Client("http://127.0.0.1:1", token="t", timeout=2)
    with pytest.raises(jrc.RetouchError) as caught:
        client.info()
    note = jrc.unreachable_note(caught.value, client.server_url)
    assert "http://127.0.0.1:1" in note and "`jewel-retouch serve`" in note
    assert "built-in" in note
    with pytest.raises(jrc.RetouchError) as caught:
        jrc.Client("ftp://nowhere")
    assert "http://127.0.0.1:8765" in jrc.unreachable_note(caught.value, "ftp://nowhere")


def test_unknown_option_types_do_not_break_the_options(jrc):
    schema = [
        {"name": "metal_variants", "type": "list", "default": [], "choices": ["silver"]},
        {"name": "future", "type": "colour", "default": "#fff"},
    ]
    values = {"metal_variants": '["silver"]', "future": "#000"}
    assert jrc.options_from_values(schema, values) == {
        "metal_variants": ["silver"],
        "future": "#000",
    }
    assert jrc.options_from_values(schema, {"metal_variants": ("silver",)}) == {
        "metal_variants": ["silver"]
    }


def test_a_silent_server_still_gets_progress_ticks(jrc):
    """While the server says nothing, the client calls the progress callback about once a
    second with the last stage; the scripted server answers only after two such ticks."""
    import json

    from websockets.sync.server import serve

    ticks = []
    two_ticks = threading.Event()

    def progress(stage, fraction):
        ticks.append((stage, fraction))
        if sum(1 for item in ticks if item[0] == "segment") >= 3:  # announced, then 2 ticks
            two_ticks.set()
        return True

    def session(ws):
        job, received = scripted_job(ws)
        ws.send(
            json.dumps({"type": "progress", "id": job["id"], "stage": "segment", "fraction": 0.5})
        )
        assert two_ticks.wait(60), ticks
        part = {"name": "image", "kind": "image", "channels": 4, "depth": 8, "bytes": len(received)}
        header = {"type": "result", "id": job["id"], "width": 3, "height": 2, "parts": [part]}
        ws.send(json.dumps(dict(header, channels=4, depth=8)))
        ws.send(received)
        ws.send(json.dumps({"type": "done", "id": job["id"], "info": {}}))

    with serve(session, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        client = jrc.Client("http://127.0.0.1:1", token="t", timeout=30)
        info = {"limits": {}, "websocket": {"url": f"ws://127.0.0.1:{port}"}}
        request = jrc.RetouchRequest(b"\x05" * 24, 3, 2, 4, 8, info=info, progress=progress)
        result = client.retouch(request)
        server.shutdown()
    assert result.part("image")[1] == b"\x05" * 24
    stages = [stage for stage, _ in ticks]
    assert stages[0] == "upload" and "waiting" in stages and stages[-1] == "download"
    # The ticks repeat the stage the server named last, at its position on the bar.
    segment = [fraction for stage, fraction in ticks if stage == "segment"]
    assert len(segment) >= 3 and len(set(segment)) == 1 and segment[0] == pytest.approx(0.5)


def test_a_silent_server_past_the_timeout_is_a_timeout(jrc):
    """Ticks do not stretch the timeout: silence longer than it still ends the job."""

    from websockets.sync.server import serve

    release = threading.Event()

    def session(ws):
        scripted_job(ws)
        release.wait(60)  # silent until the test is over

    with serve(session, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        client = jrc.Client("http://127.0.0.1:1", token="t", timeout=1.5)
        info = {"limits": {}, "websocket": {"url": f"ws://127.0.0.1:{port}"}}
        with pytest.raises(jrc.RetouchError) as caught:
            client.retouch(jrc.RetouchRequest(b"\x05" * 24, 3, 2, 4, 8, info=info))
        release.set()
        server.shutdown()
    assert caught.value.code == "timeout" and "within 1 s" in caught.value.message
