"""The GIMP 3 plug-in's dialog and progress texts, inside real GIMP 3 on a virtual display.

GIMP runs headless in the trixie chroot with an Xvfb display, so the plug-in's options dialog
is a real GTK dialog. The plug-in's dialog script hook (JEWEL_RETOUCH_DIALOG_SCRIPT) shows it,
reports what is on it (labels, each field's text and whether the text fits its field), types
into it and answers OK or Cancel, as a person would. All scenarios run in one GIMP launch.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gimp_plugin.jewel_retouch_client import BUILTIN_OPTIONS
from server.testing import scripted_job


def _sibling(name: str):
    """A module beside this one (pytest imports tests with --import-mode=importlib, so test
    files cannot import each other by name)."""
    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"jewel_retouch_tests_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_plugin_tests = _sibling("test_gimp3_plugin")
gtk_problems = _plugin_tests.gtk_problems
IMAGE_H, IMAGE_W, PROC = _plugin_tests.IMAGE_H, _plugin_tests.IMAGE_W, _plugin_tests.PROC
Scenario, assert_failed_cleanly = _plugin_tests.Scenario, _plugin_tests.assert_failed_cleanly
free_port, load, raw = _plugin_tests.free_port, _plugin_tests.load, _plugin_tests.raw
random_pixels, rgb_image = _plugin_tests.random_pixels, _plugin_tests.rgb_image
scenario_logs = _plugin_tests.scenario_logs

pytestmark = pytest.mark.timeout(1800)

# How long the silent server waits for the plug-in to count seconds (generous: a busy machine).
WAIT_FOR_TICKS_S = 120
WAITING = re.compile(r"^Jewel retouch: waiting for the server \((\d+) s\)\.\.\.$")


def waited_seconds(texts: list[str]) -> list[int]:
    """The seconds counts of the "waiting for the server (N s)" texts, in order."""
    return [int(match.group(1)) for match in map(WAITING.match, texts) if match]


class SilentServer:
    """A job channel that says nothing while it "works": it answers only once the plug-in's
    progress log shows that the plug-in has counted two seconds of waiting (an event, not a
    sleep), then echoes the pixels. /v1/info over HTTP names its WebSocket URL."""

    def __init__(self, progress_log: Path) -> None:
        import http.server

        from websockets.sync.server import serve

        self.progress_log = progress_log
        self.saw_ticks = False
        self.ws = serve(self.session, "127.0.0.1", 0)
        ws_url = f"ws://127.0.0.1:{self.ws.socket.getsockname()[1]}"
        threading.Thread(target=self.ws.serve_forever, daemon=True).start()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(
                    {"options": [], "limits": {}, "websocket": {"url": ws_url}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def session(self, ws) -> None:
        job, received = scripted_job(ws)
        deadline = time.monotonic() + WAIT_FOR_TICKS_S
        while time.monotonic() < deadline:
            text = self.progress_log.read_text() if self.progress_log.exists() else ""
            if any(seconds >= 2 for seconds in waited_seconds(text.splitlines())):
                self.saw_ticks = True
                break
            time.sleep(0.05)
        part = {"name": "image", "kind": "image", "channels": 4, "depth": 8}
        part["bytes"] = len(received)
        header = {"type": "result", "id": job["id"], "parts": [part], "warnings": []}
        header.update(width=job["width"], height=job["height"], channels=4, depth=8)
        ws.send(json.dumps(header))
        ws.send(received)
        ws.send(json.dumps({"type": "done", "id": job["id"], "info": {}}))

    def close(self) -> None:
        self.ws.shutdown()
        self.httpd.shutdown()
        self.httpd.server_close()


def interactive(name, url, pixels, dialog, **extra):
    scenario = Scenario(name, rgb_image(), "rgba", "R'G'B'A u8", pixels, args={"server-url": url})
    scenario.spec.update(run_mode="interactive", dialog=dialog, **extra)
    return scenario


@pytest.fixture(scope="module")
def dialog_session(gimp3_root):
    """A GIMP profile of its own: GIMP reopens a dialog with the values of the last successful
    run (kept in the profile), so the other modules' runs must not leak into these."""
    session = _sibling("conftest").GimpSession(gimp3_root)
    yield session
    session.close()


@pytest.fixture(scope="module")
def dialog_run(dialog_session, gimp_session, gimp_server, chroot_config_dir, xvfb):
    # The server's token folder lives in the main session's folder, readable from the chroot.
    gimp_session = dialog_session
    out_dir = gimp_session.new_dir("dialog")
    silent = SilentServer(out_dir / "progress.log")
    dead = f"http://127.0.0.1:{free_port()}"
    pixels = random_pixels(IMAGE_H, IMAGE_W, 4, 8) | np.array([0, 0, 0, 1], np.uint8)

    def report_path(name):
        return str(gimp_session.chroot_path(out_dir / f"{name}.dialog.json"))

    scenarios = [
        # Interactive runs start from the values of the last successful one (GIMP keeps them):
        # the failing run comes first, so both "down" runs start from the dead URL.
        # The server is down and stays down: OK gives one error, naming the URL and command.
        interactive("down_ok", dead, pixels, {"report": report_path("down_ok"), "response": "ok"}),
        # The server is down: the dialog opens anyway; the user corrects the URL and clicks OK.
        interactive(
            "down_then_fixed",
            dead,
            pixels,
            {
                "report": report_path("down_then_fixed"),
                "set": {"server-url": gimp_server.http_url},
                "response": "ok",
            },
        ),
        # The server runs: the dialog follows its live schema; the user cancels.
        interactive(
            "live_cancel",
            gimp_server.http_url,
            pixels,
            {"report": report_path("live_cancel"), "response": "cancel"},
        ),
        # A server that works for seconds without a word: the progress text counts them.
        Scenario(
            "silent",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            pixels,
            args={"server-url": silent.url},
        ),
    ]
    specs = []
    for scenario in scenarios:
        pixel_file = out_dir / f"{scenario.name}.source.raw"
        pixel_file.write_bytes(raw(scenario.pixels))
        spec = dict(scenario.spec)
        spec["layer"] = dict(spec["layer"], pixels=str(gimp_session.chroot_path(pixel_file)))
        specs.append(spec)
    try:
        report = gimp_session.run_batch(
            {"proc": PROC, "scenarios": specs}, chroot_config_dir, out_dir, display=xvfb
        )
    finally:
        silent.close()
    logs = scenario_logs(gimp_session.last_log)
    entries = {}
    for entry in report:
        assert "crash" not in entry, entry["crash"]
        entry["log"] = logs.get(entry["name"], "")
        dialog_file = out_dir / f"{entry['name']}.dialog.json"
        entry["dialog"] = json.loads(dialog_file.read_text()) if dialog_file.exists() else None
        entries[entry["name"]] = entry
    return {
        "entries": entries,
        "scenarios": {s.name: s for s in scenarios},
        "dead": dead,
        "silent": silent,
        "to_host": gimp_session.host_path,
        "log": gimp_session.last_log,
    }


def assert_every_field_fits(dialog):
    for name, entries in dialog["fields"].items():
        for entry in entries:
            assert entry["fits"], f"{name}: {entry['text']!r} does not fit its field ({entry})"


def test_dialog_opens_when_the_server_is_down_and_the_url_can_be_fixed(dialog_run, gimp_server):
    entry = dialog_run["entries"]["down_then_fixed"]
    dialog = entry["dialog"]
    assert dialog and dialog["mapped"], f"the dialog did not open: {entry}"
    note = [text for text in dialog["labels"] if dialog_run["dead"] in text]
    assert len(note) == 1, dialog["labels"]  # one message, on the dialog
    assert "jewel-retouch serve" in note[0] and "built-in" in note[0]
    # The options come from the built-in schema: every one has its field.
    for spec in BUILTIN_OPTIONS:
        assert spec["name"].replace("_", "-") in dialog["fields"], spec["name"]
    (url_field,) = dialog["fields"]["server-url"]
    assert url_field["editable"] and url_field["text"] == dialog_run["dead"]
    # The URL typed into the dialog is the one used: the real server answered.
    assert entry["status"] == "success", entry["error"]
    assert entry["layers_after"][0] == "top" and entry["layers_after"][2:] == ["source", "bottom"]
    new = entry["new"]
    got = load(dialog_run["to_host"](new["pixels"]), (IMAGE_H, IMAGE_W, 4), 8)
    assert got.shape == (IMAGE_H, IMAGE_W, 4)
    assert not gtk_problems(entry["log"]), entry["log"]


def test_margin_shows_its_default_whole_and_no_field_is_cut(dialog_run):
    for name in ("down_then_fixed", "live_cancel"):
        dialog = dialog_run["entries"][name]["dialog"]
        margin = [field["text"] for field in dialog["fields"]["margin"]]
        assert "0.075" in margin, margin
        assert_every_field_fits(dialog)


def test_server_still_down_after_ok_is_one_error_naming_url_and_command(dialog_run):
    entry = dialog_run["entries"]["down_ok"]
    assert entry["dialog"]["mapped"]
    assert_failed_cleanly(entry, dialog_run["dead"], "jewel-retouch serve")
    # Returned to GIMP, which shows it once in its window (the console twin of this test is
    # test_gimp3_plugin's server-down test, where GIMP prints it once on stderr).
    assert entry["log"].count("not running at") <= 1, entry["log"]
    assert not gtk_problems(entry["log"]), entry["log"]


def test_cancel_in_the_live_dialog_changes_nothing(dialog_run):
    entry = dialog_run["entries"]["live_cancel"]
    dialog = entry["dialog"]
    assert dialog["mapped"]
    assert not [text for text in dialog["labels"] if "built-in" in text], dialog["labels"]
    assert entry["status"] == "cancel"
    assert entry["layers_after"] == entry["layers_before"]
    assert not gtk_problems(entry["log"]), entry["log"]


def test_progress_text_counts_the_seconds_while_the_server_works(dialog_run):
    entry = dialog_run["entries"]["silent"]
    assert dialog_run["silent"].saw_ticks, entry["progress"]
    assert entry["status"] == "success", entry["error"]
    texts = entry["progress"]
    assert texts[0].startswith("Jewel retouch: sending the pixels"), texts
    assert "Jewel retouch: waiting for the server..." in texts, texts
    counts = waited_seconds(texts)
    # Updated while nothing came from the server: one text per second counted, rising.
    assert len(counts) >= 2 and counts == sorted(set(counts)) and counts[-1] >= 2, texts
    assert texts[-1].startswith("Jewel retouch: receiving the result"), texts
    assert not gtk_problems(entry["log"]), entry["log"]


def test_the_whole_dialog_launch_printed_no_gtk_problem(dialog_run):
    assert not gtk_problems(dialog_run["log"]), gtk_problems(dialog_run["log"])
    # GIMP's dialog also complains, on stderr, about a label without an access key (or one
    # that repeats another's): every label has its own.
    mnemonic = [line for line in dialog_run["log"].splitlines() if "mnemonic" in line]
    assert not mnemonic, mnemonic
