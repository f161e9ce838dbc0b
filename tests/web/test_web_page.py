"""The web page in headless Chromium against a real server: token, upload, live progress,
before/after comparison, downloads (one and zip) and error cases."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import requests
from PIL import Image
from playwright.sync_api import expect

OPTIONS_TIMEOUT = 60_000
REPO = Path(__file__).resolve().parents[2]
WAIT = 60_000  # ms: generous, for a busy machine; each wait ends on an event, not a sleep


def png_bytes(seed: int, size=(40, 56), mode="RGB") -> bytes:
    rng = np.random.default_rng(seed)
    channels = len(mode)
    pixels = rng.integers(30, 230, (*size, channels), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, mode).save(out, "PNG")
    return out.getvalue()


def server_answer(server, data: bytes, options: dict) -> bytes:
    answer = requests.post(
        server.http_url + "/v1/retouch",
        data=data,
        headers={
            **server.auth_headers,
            "Content-Type": "image/png",
            "X-Options": json.dumps(options),
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.content


def open_page(page, server):
    page.goto(f"{server.http_url}/#token={server.token}", timeout=WAIT)
    page.wait_for_selector("body[data-ready='1']", timeout=OPTIONS_TIMEOUT)


def upload(page, files: dict[str, bytes]) -> None:
    page.set_input_files(
        "#file-input",
        [{"name": n, "mimeType": "image/png", "buffer": b} for n, b in files.items()],
    )


def run_and_wait(page, runs: int = 1) -> None:
    page.click("#run")
    page.wait_for_selector(f"body[data-finished='{runs}']", timeout=3 * WAIT)


def test_upload_progress_compare_and_download(page, server, tmp_path):
    open_page(page, server)
    # The token came from the URL fragment: stored, and gone from the address bar.
    assert page.evaluate("localStorage.getItem('jewel-retouch-token')") == server.token
    assert "token" not in page.url
    # Options come from the server's schema; choosing a preset fills them in.
    page.select_option("#preset", "natural-shadow")
    assert page.input_value("#opt-shadow") == "natural"
    page.fill("#opt-strength", "0.7")
    files = {"ring.png": png_bytes(1), "pendant.png": png_bytes(2, mode="RGBA")}
    upload(page, files)
    assert page.locator("#jobs tbody tr").count() == 2
    run_and_wait(page)

    for name in files:
        row = page.locator(f"#jobs tr[data-path='{name}']")
        assert row.get_attribute("data-status") == "done"
        bar = row.locator("progress")
        assert float(bar.evaluate("b => b.value")) == 1.0
        assert int(bar.get_attribute("data-events")) >= 1  # live progress from the server

    # Compare: both images load; the slider moves the split.
    page.locator("#jobs tr[data-path='pendant.png'] button.compare").click()
    assert page.text_content("#compare-name") == "pendant.png"
    # (Locator assertions poll without eval: the page's CSP forbids string predicates.)
    for image in ("#before-img", "#after-img"):
        expect(page.locator(image)).to_have_js_property("naturalWidth", 56, timeout=WAIT)
    page.fill("#compare-slider", "20")
    assert "80%" in page.get_attribute("#after-clip", "style")
    page.fill("#compare-slider", "90")
    assert "10%" in page.get_attribute("#after-clip", "style")

    # Download one: the very bytes the HTTP API gives for the same file and options.
    options = {"shadow": "natural", "background": "white", "strength": 0.7}
    with page.expect_download() as info:
        page.locator("#jobs tr[data-path='ring.png'] a.download").click()
    download = info.value
    assert download.suggested_filename == "ring.png"
    path = tmp_path / "ring.png"
    download.save_as(path)
    expected = {n: server_answer(server, b, options) for n, b in files.items()}
    assert path.read_bytes() == expected["ring.png"]

    # Download all as a zip.
    with page.expect_download() as info:
        page.click("#download-zip")
    zipped = tmp_path / "all.zip"
    info.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted(files)
        for name in files:
            assert archive.read(name) == expected[name]
    assert page.js_errors == []


def test_bad_files_are_reported_and_the_rest_continue(page, server):
    open_page(page, server)
    page.set_input_files(
        "#file-input",
        [
            {"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\nxx"},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"},
            {"name": "good.png", "mimeType": "image/png", "buffer": png_bytes(3)},
        ],
    )
    txt = page.locator("#jobs tr[data-path='notes.txt']")
    expect(txt).to_have_attribute("data-status", "failed", timeout=WAIT)
    assert "not a PNG, JPEG, TIFF or WebP" in txt.text_content()
    run_and_wait(page)
    broken = page.locator("#jobs tr[data-path='broken.png']")
    assert broken.get_attribute("data-status") == "failed"
    # The server's bad_request, told as docs/protocol.json says (summary, message, advice).
    contract = json.loads((REPO / "docs" / "protocol.json").read_text())["errors"]["bad_request"]
    status = broken.locator(".job-status").text_content()
    assert status.startswith("error: " + contract["summary"] + ": "), status
    assert status.endswith(" " + contract["advice"]), status
    assert page.locator("#jobs tr[data-path='good.png']").get_attribute("data-status") == "done"
    assert "1 retouched, 2 failed" in page.text_content("#status")


def test_wrong_token_is_refused_then_a_typed_token_is_kept(page, server):
    page.goto(f"{server.http_url}/#token=not-the-token", timeout=WAIT)
    page.wait_for_selector("#token-panel:not([hidden])", timeout=WAIT)
    assert "refused" in page.text_content("#token-error")
    assert page.evaluate("localStorage.getItem('jewel-retouch-token')") is None
    page.fill("#token-input", server.token)
    page.click("#token-form button")
    page.wait_for_selector("body[data-ready='1']", timeout=WAIT)
    page.reload(timeout=WAIT)  # the token is remembered: no prompt the second time
    page.wait_for_selector("body[data-ready='1']", timeout=WAIT)
    assert page.is_hidden("#token-panel")


def test_page_and_presets_follow_the_token_rules(server):
    user = server.config_dir / "presets"
    user.mkdir(exist_ok=True)
    (user / "studio-grey.toml").write_text('title = "Studio"\n[options]\nbackground = "keep"\n')
    assert requests.get(server.http_url + "/", timeout=10).status_code == 200
    refused = requests.get(server.http_url + "/web/presets.json", timeout=10)
    assert refused.status_code == 401
    allowed = requests.get(
        server.http_url + "/web/presets.json", headers=server.auth_headers, timeout=10
    )
    names = {p["name"] for p in allowed.json()["presets"]}
    assert {"marketplace-white", "natural-shadow", "transparent-cutout", "studio-grey"} <= names
    assert requests.get(server.http_url + "/web/../app.py", timeout=10).status_code == 404


def test_folder_upload_keeps_the_structure_in_the_zip(page, server, tmp_path):
    folder = tmp_path / "shoot"
    (folder / "rings").mkdir(parents=True)
    (folder / "rings" / "band.png").write_bytes(png_bytes(4))
    (folder / "studs.png").write_bytes(png_bytes(5))
    open_page(page, server)
    page.set_input_files("#folder-input", str(folder))
    paths = sorted(
        page.locator("#jobs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.path)")
    )
    assert paths == ["shoot/rings/band.png", "shoot/studs.png"]
    run_and_wait(page)
    with page.expect_download() as info:
        page.click("#download-zip")
    zipped = tmp_path / "all.zip"
    info.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(archive.namelist()) == paths
        assert archive.read("shoot/studs.png") == server_answer(server, png_bytes(5), {})


def test_warnings_are_shown_on_the_images_row(page, server):
    """The server's job messages, with warnings added on the way (as docs/protocol.json says:
    `result.warnings` and `done.info.warnings`): the page lists each once on the image's row."""
    first = {"code": "background_kept", "message": "Background kept (test)."}
    second = {"code": "low_resolution", "message": "The photo is small (test)."}

    def add_warnings(ws):
        server_side = ws.connect_to_server()

        def to_page(message):
            if isinstance(message, str):
                data = json.loads(message)
                if data.get("type") == "result":
                    data["warnings"] = [first]
                elif data.get("type") == "done":
                    data.setdefault("info", {})["warnings"] = [first, second]
                message = json.dumps(data)
            ws.send(message)

        server_side.on_message(to_page)

    page.route_web_socket(server.ws_url.rstrip("/") + "**", add_warnings)
    open_page(page, server)
    upload(page, {"ring.png": png_bytes(6)})
    run_and_wait(page)
    row = page.locator("#jobs tr[data-path='ring.png']")
    assert row.get_attribute("data-status") == "done"
    assert row.get_attribute("data-warnings") == "background_kept low_resolution"
    assert row.locator(".job-status").text_content().startswith("done, 2 warnings")
    lines = row.locator(".job-warnings li")
    assert lines.all_text_contents() == [first["message"], second["message"]]
    assert page.js_errors == []
