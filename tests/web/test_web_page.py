"""The web page in headless Chromium against a real server: token screen, upload, live
progress, per-image states, cancel, retry, re-run, before/after viewer (split line, zoom, pan,
framed canvas), downloads (one and zip), keyboard use, colour contrast, and screenshots under
out/web-screens/ for a person to look at."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

OPTIONS_TIMEOUT = 60_000
REPO = Path(__file__).resolve().parents[2]
SCREENS = REPO / "out" / "web-screens"
WAIT = 60_000  # ms: generous, for a busy machine; each wait ends on an event, not a sleep
CONTRACT = json.loads((REPO / "docs" / "protocol.json").read_text())


def png_bytes(seed: int, size=(40, 56), mode="RGB") -> bytes:
    rng = np.random.default_rng(seed)
    channels = len(mode)
    pixels = rng.integers(30, 230, (*size, channels), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, mode).save(out, "PNG")
    return out.getvalue()


def jewel_png(seed: int, size=(420, 560)) -> bytes:
    """A synthetic studio shot: a gold ring with a blue stone on a light grey backdrop (only
    so the screenshots show something like a product photo; no real photo is used)."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    backdrop = 214 + 18 * (y / h) + rng.normal(0, 1.5, (h, w))
    image = np.repeat(backdrop[..., None], 3, axis=2)
    cx, cy = w * (0.45 + 0.1 * rng.random()), h * 0.52
    r = np.hypot((x - cx) / 1.0, (y - cy) / 0.62)
    band = (r > h * 0.24) & (r < h * 0.31)
    shade = 0.75 + 0.25 * np.cos((x - cx) / (h * 0.3) * 2.2)
    gold = np.stack([200 * shade + 40, 160 * shade + 20, 70 * shade + 10], axis=2)
    image[band] = gold[band]
    stone = np.hypot(x - cx, y - (cy - h * 0.2)) < h * 0.075
    image[stone] = [40, 80, 190]
    out = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB").save(out, "PNG")
    return out.getvalue()


def server_answer(server, data: bytes, options: dict, mime: str = "image/png") -> bytes:
    answer = requests.post(
        server.http_url + "/v1/retouch",
        data=data,
        headers={
            **server.auth_headers,
            "Content-Type": mime,
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


def card(page, path: str):
    return page.locator(f"#grid .card[data-path='{path}']")


def run_and_wait(page, runs: int = 1) -> None:
    page.click("#run")
    page.wait_for_selector(f"body[data-finished='{runs}']", timeout=3 * WAIT)


def box(page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return found


def save_screen(page, name: str, full_page: bool = False) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=full_page)


# ---------------------------------------------------------------------------------- main flow


def test_upload_progress_compare_and_download(page, server, tmp_path):
    open_page(page, server)
    # The token came from the URL fragment: stored, and gone from the address bar.
    assert page.evaluate("localStorage.getItem('jewel-retouch-token')") == server.token
    assert "token" not in page.url
    # Presets from the server fill the settings in; the chosen one is marked.
    preset = page.locator("#presets button[data-preset='natural-shadow']")
    preset.click()
    assert preset.get_attribute("aria-pressed") == "true"
    assert page.input_value("#opt-shadow") == "natural"
    page.fill("#opt-strength", "0.7")
    expect(preset).to_have_class(re.compile(r"\bchanged\b"))
    files = {"ring.png": png_bytes(1), "pendant.png": png_bytes(2, mode="RGBA")}
    upload(page, files)
    assert page.locator("#grid .card").count() == 2
    for name in files:
        expect(card(page, name)).to_have_attribute("data-state", "queued")
    expect(page.locator("#run")).to_have_text("Retouch 2 photos")
    run_and_wait(page)

    for name in files:
        item = card(page, name)
        assert item.get_attribute("data-status") == "done"
        # Tiny test images: the model says so (low resolution), shown as a warning state.
        assert item.get_attribute("data-state") in ("done", "warning")
        bar = item.locator("progress")
        assert float(bar.evaluate("b => b.value")) == 1.0
        assert int(bar.get_attribute("data-events")) >= 1  # live progress from the server
    expect(page.locator("#run")).to_have_text("All up to date")
    expect(page.locator("#run")).to_be_disabled()

    # Compare: a click on a card shows it large; both halves load and are labelled.
    card(page, "pendant.png").click()
    expect(page.locator("#viewer-name")).to_have_text("pendant.png")
    # (Locator assertions poll without eval: the page's CSP forbids string predicates.)
    for image in ("#before-img", "#after-img"):
        expect(page.locator(image)).to_have_js_property("naturalWidth", 56, timeout=WAIT)
    expect(page.locator("#viewer")).to_have_attribute("data-loaded", "1", timeout=WAIT)
    expect(page.locator("#viewer .tag-before")).to_have_text("Before")
    expect(page.locator("#viewer .tag-after")).to_have_text("After")
    # Same canvas: the two images cover the very same screen box (no stretching, no shift).
    before, after = box(page, "#before-img"), box(page, "#after-img")
    for key in ("x", "y", "width", "height"):
        assert abs(before[key] - after[key]) < 0.5, (before, after)
    assert abs(after["width"] / after["height"] - 56 / 40) < 0.01

    # Download one: the very bytes the HTTP API gives, named NAME_retouched.EXT.
    options = {"shadow": "natural", "background": "white", "strength": 0.7}
    with page.expect_download() as info:
        card(page, "ring.png").locator("a.download").click()
    download = info.value
    assert download.suggested_filename == "ring_retouched.png"
    path = tmp_path / "ring.png"
    download.save_as(path)
    expected = {n: server_answer(server, b, options) for n, b in files.items()}
    assert path.read_bytes() == expected["ring.png"]
    # The viewer's own download button: the selected image.
    with page.expect_download() as info:
        page.click("#viewer-download")
    assert info.value.suggested_filename == "pendant_retouched.png"

    # Download all as a zip.
    with page.expect_download() as info:
        page.click("#download-zip")
    zipped = tmp_path / "all.zip"
    info.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["pendant_retouched.png", "ring_retouched.png"]
        for name in files:
            assert archive.read(name.replace(".png", "_retouched.png")) == expected[name]
    assert page.js_errors == []


def test_metal_variants_download_as_their_own_files_and_in_the_zip(page, server, tmp_path):
    open_page(page, server)
    for metal in ("white_gold", "silver"):
        page.check(f"#opt-metal_variants input[data-choice='{metal}']")
    upload(page, {"ring.png": png_bytes(7)})
    run_and_wait(page)
    item = card(page, "ring.png")
    links = item.locator("a.variant-download")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("data-variant") for i in range(2)] == [
        "white_gold", "silver"]
    # The server's own answer for the same file and options: an archive with variant parts.
    options = {"metal_variants": ["white_gold", "silver"]}
    archive = zipfile.ZipFile(io.BytesIO(server_answer(server, png_bytes(7), options)))
    expected = {
        "ring_retouched.png": archive.read("image.png"),
        "ring_white_gold.png": archive.read("variants/white_gold.png"),
        "ring_silver.png": archive.read("variants/silver.png"),
    }
    with page.expect_download() as info:
        links.nth(0).click()
    assert info.value.suggested_filename == "ring_white_gold.png"
    saved = tmp_path / "white.png"
    info.value.save_as(saved)
    assert saved.read_bytes() == expected["ring_white_gold.png"]
    # The viewer offers the same downloads beside its main one.
    expect(page.locator("#viewer-variants a.variant-download")).to_have_count(2)
    with page.expect_download() as info:
        page.click("#download-zip")
    zipped = tmp_path / "all.zip"
    info.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as got:
        assert sorted(got.namelist()) == sorted(expected)
        for name, data in expected.items():
            assert got.read(name) == data, name
    assert page.js_errors == []


def test_split_line_drag_keyboard_zoom_and_pan(page, server):
    page.set_viewport_size({"width": 1366, "height": 900})
    open_page(page, server)
    page.select_option("#opt-framing", "square")
    page.fill("#opt-canvas_size", "1200")
    upload(page, {"ring.png": png_bytes(7)})  # 56 x 40: framing makes it 1200 x 1200
    run_and_wait(page)
    expect(page.locator("#after-img")).to_have_js_property("naturalWidth", 1200, timeout=WAIT)
    expect(page.locator("#viewer")).to_have_attribute("data-loaded", "1", timeout=WAIT)
    viewer = page.locator("#viewer")

    # Framing changed the canvas: the result is square, the original keeps its proportions,
    # fitted whole and centred inside the result's canvas (never stretched into it).
    before, after = box(page, "#before-img"), box(page, "#after-img")
    assert abs(after["width"] - after["height"]) < 0.5
    assert abs(before["width"] / before["height"] - 56 / 40) < 0.01
    assert abs(before["width"] - after["width"]) < 0.5  # as wide as the canvas: fitted
    assert (
        before["y"] > after["y"] and before["y"] + before["height"] < after["y"] + after["height"]
    )
    assert (
        abs(
            (before["y"] - after["y"])
            - (after["y"] + after["height"] - before["y"] - before["height"])
        )
        < 1
    )
    assert viewer.get_attribute("data-canvas-changed") == "1"
    expect(page.locator("#viewer-note")).to_contain_text("56 x 40 px to 1200 x 1200 px")

    # The split line, dragged on the image itself.
    view = box(page, "#viewer")
    handle = box(page, "#handle")
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(view["x"] + view["width"] * 0.25, view["y"] + view["height"] / 2, steps=5)
    page.mouse.up()
    split = float(viewer.get_attribute("data-split"))
    assert abs(split - 25) < 1, split
    assert f"inset(0px 0px 0px {split:g}%)" in page.locator("#pane-after").get_attribute("style")
    # ... and by keyboard: the handle is a slider (arrows, Home, End).
    page.focus("#handle")
    page.keyboard.press("Home")
    expect(page.locator("#handle")).to_have_attribute("aria-valuenow", "0")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#handle")).to_have_attribute("aria-valuenow", "10")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#handle")).to_have_attribute("aria-valuenow", "98")
    page.keyboard.press("PageDown")
    expect(page.locator("#handle")).to_have_attribute("aria-valuenow", "88")

    # 100 %: one result pixel per screen pixel; then a drag away from the line pans.
    page.click("#zoom-100")
    expect(page.locator("#zoom-level")).to_have_text("100 %")
    after = box(page, "#after-img")
    assert abs(after["width"] - 1200) < 0.5 and abs(after["height"] - 1200) < 0.5
    line_x = view["x"] + view["width"] * float(viewer.get_attribute("data-split")) / 100
    start_x = line_x - 300
    page.mouse.move(start_x, view["y"] + view["height"] / 2)
    page.mouse.down()
    page.mouse.move(start_x + 120, view["y"] + view["height"] / 2 - 80, steps=4)
    page.mouse.up()
    moved = box(page, "#after-img")
    assert abs(moved["x"] - after["x"] - 120) < 1 and abs(moved["y"] - after["y"] + 80) < 1
    assert float(viewer.get_attribute("data-split")) == pytest.approx(88, abs=0.6)  # not moved
    # Zoom out with the keyboard, back to fit with the button.
    page.focus("#viewer")
    page.keyboard.press("-")
    assert float(viewer.get_attribute("data-scale")) == pytest.approx(0.8, abs=0.01)
    page.click("#zoom-fit")
    fitted = box(page, "#after-img")
    assert abs(fitted["height"] - view["height"]) < 1  # a square canvas in a wide view
    assert page.js_errors == []


# ---------------------------------------------------------------------------------- work


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
    txt = card(page, "notes.txt")
    expect(txt).to_have_attribute("data-state", "failed", timeout=WAIT)
    assert "Not a PNG, JPEG, TIFF or WebP" in txt.text_content()
    assert txt.locator("button.retry").count() == 0  # retrying cannot help a text file
    run_and_wait(page)
    broken = card(page, "broken.png")
    assert broken.get_attribute("data-state") == "failed"
    # The server's bad_request, told as docs/protocol.json says (summary, message, advice),
    # with the contract's `commands` shown as code, not between backticks.
    contract = CONTRACT["errors"]["bad_request"]
    message = broken.locator(".card-message").text_content()
    assert message.startswith(contract["summary"] + ": "), message
    assert message.endswith(" " + contract["advice"].replace("`", "")), message
    assert "`" not in message
    assert broken.locator(".card-message code").all_text_contents() == ["jewel-retouch serve"]
    assert card(page, "good.png").get_attribute("data-status") == "done"
    assert "1 retouched, 2 failed" in page.text_content("#status")
    # The failed image, selected, says why on the image itself.
    broken.click()
    expect(page.locator("#viewer-message")).to_contain_text(contract["summary"])
    expect(page.locator("#viewer-retry")).to_be_visible()


def test_cancel_a_running_batch_with_settings_locked(page, server):
    """The second job's upload is held back on its way to the server (so it is still running
    when the test cancels, whatever the machine's speed); the page must stop it, keep the
    third queued, unlock the settings, and run both later."""
    held = {"jobs": 0, "dropping": False, "armed": True}

    def hold_second_job(ws):
        server_side = ws.connect_to_server()

        def to_server(message):
            if isinstance(message, str):
                data = json.loads(message)
                held["dropping"] = False
                if data.get("type") == "job":
                    held["jobs"] += 1
                    if held["armed"] and held["jobs"] == 2:
                        held["armed"] = False
                        held["dropping"] = True
                        return
            elif held["dropping"]:
                return
            server_side.send(message)

        ws.on_message(to_server)
        server_side.on_message(ws.send)

    page.route_web_socket(server.ws_url.rstrip("/") + "**", hold_second_job)
    page.set_viewport_size({"width": 1366, "height": 900})
    open_page(page, server)
    upload(page, {"a.png": png_bytes(10), "b.png": png_bytes(11), "c.png": png_bytes(12)})
    page.click("#run")
    expect(card(page, "a.png")).to_have_attribute("data-status", "done", timeout=3 * WAIT)
    expect(card(page, "b.png")).to_have_attribute("data-state", "sending", timeout=WAIT)
    # Locked while it runs: the values used are the ones shown, and the page says so.
    expect(page.locator("#settings-lock")).to_be_visible()
    expect(page.locator("#settings-fieldset")).to_have_js_property("disabled", True)
    expect(page.locator("#opt-background")).to_be_disabled()
    expect(page.locator("#presets button").first).to_be_disabled()
    expect(page.locator("#clear")).to_be_disabled()
    save_screen(page, "1366-running")  # for a person: the lock notice and the states
    page.click("#cancel")
    page.wait_for_selector("body[data-finished='1']", timeout=WAIT)
    expect(card(page, "b.png")).to_have_attribute("data-state", "cancelled")
    expect(card(page, "c.png")).to_have_attribute("data-state", "queued")
    expect(page.locator("#status")).to_contain_text("Cancelled")
    expect(page.locator("#settings-lock")).to_be_hidden()
    expect(page.locator("#opt-background")).to_be_enabled()
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator("#run")).to_have_text("Retouch 2 photos")
    run_and_wait(page, runs=2)
    for name in ("a.png", "b.png", "c.png"):
        assert card(page, name).get_attribute("data-status") == "done"
    assert held["jobs"] == 4  # a, b (held), then b and c again: a was not redone
    assert page.js_errors == []


def test_retry_a_failed_image(page, server, tmp_path):
    """The first answer is turned into a server error on its way to the page (the model failing
    once); Retry on that image then runs it again and it succeeds."""
    sabotage = {"armed": True, "dropping": None}

    def fail_first_result(ws):
        server_side = ws.connect_to_server()

        def to_page(message):
            if isinstance(message, str):
                data = json.loads(message)
                if sabotage["dropping"] is not None:
                    if data.get("type") == "done" and data.get("id") == sabotage["dropping"]:
                        sabotage["dropping"] = None
                    return
                if data.get("type") == "result" and sabotage["armed"]:
                    sabotage["armed"] = False
                    sabotage["dropping"] = data["id"]
                    message = json.dumps(
                        {
                            "type": "error",
                            "id": data["id"],
                            "code": "internal",
                            "message": "The model failed (test)",
                        }
                    )
            elif sabotage["dropping"] is not None:
                return
            ws.send(message)

        server_side.on_message(to_page)

    page.route_web_socket(server.ws_url.rstrip("/") + "**", fail_first_result)
    open_page(page, server)
    upload(page, {"ring.png": png_bytes(13)})
    run_and_wait(page)
    ring = card(page, "ring.png")
    assert ring.get_attribute("data-state") == "failed"
    internal = CONTRACT["errors"]["internal"]
    assert ring.locator(".card-message").text_content().startswith(internal["summary"])
    expect(page.locator("#run")).to_have_text("Retouch 1 photo")  # failed ones run again too
    ring.locator("button.retry").click()
    page.wait_for_selector("body[data-finished='2']", timeout=3 * WAIT)
    assert ring.get_attribute("data-status") == "done"
    assert ring.locator("button.retry").count() == 0
    with page.expect_download() as info:
        ring.locator("a.download").click()
    info.value.save_as(tmp_path / "ring.png")
    assert (tmp_path / "ring.png").read_bytes() == server_answer(server, png_bytes(13), {})


def test_rerun_after_changing_settings_without_clearing(page, server, tmp_path):
    open_page(page, server)
    photo = jewel_png(14, size=(120, 160))  # a studio shot: "transparent" cuts it out
    upload(page, {"ring.png": photo})
    run_and_wait(page)
    ring = card(page, "ring.png")
    first = ring.locator("a.download").get_attribute("href")
    expect(page.locator("#run")).to_be_disabled()
    page.select_option("#opt-background", "transparent")
    # The result on screen is from the old settings: the card says so and Retouch offers it.
    expect(ring.locator(".state")).to_contain_text("older settings")
    expect(page.locator("#run")).to_have_text("Re-run 1 photo with these settings")
    page.select_option("#opt-background", "white")  # back: up to date again
    expect(page.locator("#run")).to_have_text("All up to date")
    page.select_option("#opt-background", "transparent")
    run_and_wait(page, runs=2)
    assert page.locator("#grid .card").count() == 1
    assert ring.get_attribute("data-status") == "done"
    assert "older settings" not in ring.locator(".state").text_content()
    assert ring.locator("a.download").get_attribute("href") != first
    with page.expect_download() as info:
        ring.locator("a.download").click()
    info.value.save_as(tmp_path / "ring.png")
    data = (tmp_path / "ring.png").read_bytes()
    assert data == server_answer(server, photo, {"background": "transparent"})
    assert Image.open(io.BytesIO(data)).mode == "RGBA"


def test_folder_upload_keeps_the_structure_in_the_zip(page, server, tmp_path):
    folder = tmp_path / "shoot"
    (folder / "rings").mkdir(parents=True)
    (folder / "rings" / "band.png").write_bytes(png_bytes(4))
    (folder / "studs.png").write_bytes(png_bytes(5))
    open_page(page, server)
    page.set_input_files("#folder-input", str(folder))
    paths = sorted(
        page.locator("#grid .card").evaluate_all("cards => cards.map(c => c.dataset.path)")
    )
    assert paths == ["shoot/rings/band.png", "shoot/studs.png"]
    run_and_wait(page)
    with page.expect_download() as info:
        page.click("#download-zip")
    zipped = tmp_path / "all.zip"
    info.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(archive.namelist()) == [
            "shoot/rings/band_retouched.png",
            "shoot/studs_retouched.png",
        ]
        assert archive.read("shoot/studs_retouched.png") == server_answer(server, png_bytes(5), {})


def test_dropped_files_are_added_and_tiff_is_retouched_but_not_drawn(page, server, tmp_path):
    """A drop on the zone (the DataTransfer a file manager gives) adds the files; a TIFF is
    retouched like any other file, named NAME_retouched.tif, and the viewer says why it
    cannot draw it."""
    tiff = io.BytesIO()
    Image.open(io.BytesIO(png_bytes(40))).save(tiff, "TIFF")
    open_page(page, server)
    page.locator("#drop-zone").evaluate(
        """(zone, files) => {
            const data = new DataTransfer();
            for (const [name, bytes, type] of files) {
              data.items.add(new File([new Uint8Array(bytes)], name, { type }));
            }
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true,
                                                       cancelable: true }));
        }""",
        [
            ["scan.tif", list(tiff.getvalue()), "image/tiff"],
            ["dropped.png", list(png_bytes(41)), "image/png"],
        ],
    )
    expect(page.locator("#grid .card")).to_have_count(2, timeout=WAIT)
    run_and_wait(page)
    scan = card(page, "scan.tif")
    assert scan.get_attribute("data-status") == "done"
    scan.click()
    expect(page.locator("#viewer-message")).to_contain_text("cannot show TIFF")
    with page.expect_download() as info:
        page.click("#viewer-download")
    assert info.value.suggested_filename == "scan_retouched.tif"
    info.value.save_as(tmp_path / "scan.tif")
    expected = server_answer(server, tiff.getvalue(), {}, mime="image/tiff")
    assert (tmp_path / "scan.tif").read_bytes() == expected
    assert card(page, "dropped.png").get_attribute("data-status") == "done"
    assert page.js_errors == []


def test_warnings_are_shown_on_the_image(page, server):
    """The server's job messages, with warnings added on the way (as docs/protocol.json says:
    `result.warnings` and `done.info.warnings`): the page shows each once, on the card and on
    the large image."""
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
    ring = card(page, "ring.png")
    assert ring.get_attribute("data-status") == "done"
    assert ring.get_attribute("data-state") == "warning"
    assert ring.get_attribute("data-warnings") == "background_kept low_resolution"
    assert ring.locator(".state").text_content().startswith("Done, 2 warnings")
    assert first["message"] in ring.locator(".card-message").text_content()
    # On the image: the selected (first) result shows its warnings over the picture.
    lines = page.locator("#viewer #viewer-warnings li")
    expect(lines).to_have_count(2)
    assert lines.all_text_contents() == [first["message"], second["message"]]
    assert lines.evaluate_all("ls => ls.map(l => l.dataset.code)") == [
        "background_kept",
        "low_resolution",
    ]
    warnings_box = box(page, "#viewer-warnings")
    view = box(page, "#viewer")
    assert view["y"] < warnings_box["y"] < view["y"] + view["height"]
    # They can be folded away (to see the piece under them) and back.
    page.click("#warnings-toggle")
    expect(lines.first).to_be_hidden()
    expect(page.locator("#warnings-toggle")).to_have_text("Show 2 warnings")
    assert float(page.locator("#viewer").get_attribute("data-split")) == 50  # no split moved
    page.click("#warnings-toggle")
    expect(lines.first).to_be_visible()
    assert page.js_errors == []


# ---------------------------------------------------------------------------------- token


def test_no_token_screen_says_what_to_run_and_where_to_paste(page, server):
    page.goto(server.http_url + "/", timeout=WAIT)
    page.wait_for_selector("#token-panel:not([hidden])", timeout=WAIT)
    assert page.is_hidden("#app")
    text = page.inner_text("#token-panel")
    assert "jewel-retouch token" in text
    assert "`" not in page.inner_text("body")  # commands are shown as code, not in backticks
    assert page.text_content("#token-command") == "jewel-retouch token"
    assert page.locator("label[for='token-input']").is_visible()
    expect(page.locator("#token-input")).to_be_focused()
    expect(page.locator("#token-error")).to_be_hidden()


def test_wrong_token_is_refused_then_a_typed_token_is_kept(page, server):
    page.goto(f"{server.http_url}/#token=not-the-token", timeout=WAIT)
    page.wait_for_selector("#token-panel:not([hidden])", timeout=WAIT)
    error = page.text_content("#token-error")
    assert "refused" in error and "jewel-retouch token" in error
    assert "`" not in page.inner_text("body")
    assert page.evaluate("localStorage.getItem('jewel-retouch-token')") is None
    page.fill("#token-input", server.token)
    page.keyboard.press("Enter")  # the form submits from the keyboard
    page.wait_for_selector("body[data-ready='1']", timeout=WAIT)
    page.reload(timeout=WAIT)  # the token is remembered: no prompt the second time
    page.wait_for_selector("body[data-ready='1']", timeout=WAIT)
    assert page.is_hidden("#token-panel")


def test_a_server_that_cannot_answer_gets_one_clear_screen_and_a_retry(page, server):
    def unavailable(route):
        route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": {"code": "unavailable", "message": "shutting down"}}),
        )

    page.route("**/v1/info", unavailable)
    page.goto(f"{server.http_url}/#token={server.token}", timeout=WAIT)
    page.wait_for_selector("#problem-panel:not([hidden])", timeout=WAIT)
    assert page.is_hidden("#app") and page.is_hidden("#token-panel")
    detail = page.text_content("#problem-detail")
    assert detail.startswith(CONTRACT["errors"]["unavailable"]["summary"])
    assert "`" not in page.inner_text("body")
    page.unroute("**/v1/info")
    page.click("#problem-retry")
    page.wait_for_selector("body[data-ready='1']", timeout=WAIT)
    assert page.is_hidden("#problem-panel")


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
    icon = requests.get(server.http_url + "/web/favicon.svg", timeout=10)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    for name in ("app.js", "viewer.js", "options.js", "channel.js"):  # ES modules need this
        script = requests.get(f"{server.http_url}/web/{name}", timeout=10)
        assert script.headers["Content-Type"].startswith("text/javascript"), name


def test_the_page_is_csp_safe():
    """No inline scripts, styles or handlers: the server's CSP (script-src/style-src 'self')
    would block them. Every script and stylesheet is one of the page's own files."""
    static = REPO / "server" / "web" / "static"
    html = (static / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"\son[a-z]+=", html) == []
    for src in re.findall(r'(?:src|href)="(/web/[^"]+)"', html):
        assert (static / src.removeprefix("/web/")).is_file(), src
    assert "http://" not in html and "https://" not in html
    for script in static.glob("*.js"):
        text = script.read_text()
        assert 'setAttribute("style"' not in text and "innerHTML" not in text, script.name
        assert "eval(" not in text and "new Function" not in text, script.name


# ---------------------------------------------------------------------------------- settings


def test_settings_are_grouped_with_help_and_unknown_types_do_not_break(page, server):
    """The server's schema (finish, a "list" option) with help lines of the test's own, plus
    an option of a type no page knows: grouped by purpose, each with its help line; the
    unknown one is shown in Other and never sent. A stand-in WebSocket server records the
    job."""
    info = requests.get(server.http_url + "/v1/info", headers=server.auth_headers, timeout=10)
    schema = info.json()
    replaced = {"finish", "metal_variants"}
    schema["options"] = [o for o in schema["options"] if o["name"] not in replaced]
    schema["options"] = [
        {
            "name": "finish",
            "type": "enum",
            "default": "catalog",
            "choices": ["catalog", "natural"],
            "help": "Catalog look or natural look.",
        },
        *schema["options"],
        {
            "name": "metal_variants",
            "type": "list",
            "default": [],
            "choices": ["yellow_gold", "rose_gold", "silver"],
            "help": "Extra metal versions.",
        },
        {"name": "halo_matrix", "type": "matrix", "default": [[1]], "help": "Some future thing."},
        {"name": "sparkle", "type": "boolean", "default": False, "help": "A new switch."},
    ]
    page.route(
        "**/v1/info",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(schema)
        ),
    )
    sent = []

    def fake_server(ws):
        def on_message(message):
            if not isinstance(message, str):
                return
            data = json.loads(message)
            if data["type"] == "hello":
                ws.send(json.dumps({"type": "ready", "version": "test", "limits": {}}))
            elif data["type"] == "job":
                sent.append(data)
                ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "id": data["id"],
                            "code": "invalid_options",
                            "message": "stand-in server",
                        }
                    )
                )

        ws.on_message(on_message)

    page.route_web_socket(server.ws_url.rstrip("/") + "**", fake_server)
    open_page(page, server)
    groups = page.locator("#options .group")
    titles = groups.locator("h3").all_text_contents()
    assert titles == [
        "Finish",
        "Background and shadow",
        "Metal",
        "Cleanup and gems",
        "Framing",
        "Other",
    ]

    def names(group_id):
        return page.locator(f"#options .group[data-group='{group_id}'] .option").evaluate_all(
            "rows => rows.map(r => r.dataset.option)"
        )

    assert names("finish") == ["finish", "strength"]
    assert names("background")[:2] == ["background", "shadow"]
    assert names("metal") == ["metal", "metal_variants"]
    assert set(names("framing")) == {"framing", "margin", "canvas_size"}
    assert names("other") == ["halo_matrix", "sparkle"]
    # One help line per option, from the schema.
    for spec in schema["options"]:
        help_text = spec.get("help") or spec.get("description")
        row = page.locator(f"#options .option[data-option='{spec['name']}'] .help").last
        assert row.text_content() == help_text
    expect(page.locator(".option[data-option='halo_matrix'] .unsupported")).to_be_visible()
    page.select_option("#opt-finish", "natural")
    page.check("#opt-metal_variants input[data-choice='silver']")
    page.check("#opt-sparkle")
    upload(page, {"ring.png": png_bytes(20)})
    run_and_wait(page)
    assert len(sent) == 1
    options = sent[0]["options"]
    assert options["finish"] == "natural"
    assert options["metal_variants"] == ["silver"]
    assert options["sparkle"] is True
    assert "halo_matrix" not in options
    message = card(page, "ring.png").locator(".card-message").text_content()
    assert message.startswith(CONTRACT["errors"]["invalid_options"]["summary"])
    assert page.js_errors == []


# ---------------------------------------------------------------------------------- access


def test_keyboard_selects_images_and_moves_between_them(page, server):
    open_page(page, server)
    upload(page, {"one.png": png_bytes(30), "two.png": png_bytes(31), "three.png": png_bytes(32)})
    expect(page.locator("#viewer-name")).to_have_text("one.png")  # the first is shown
    card(page, "one.png").focus()
    page.keyboard.press("ArrowRight")
    expect(card(page, "two.png")).to_be_focused()
    page.keyboard.press("End")
    expect(card(page, "three.png")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#viewer-name")).to_have_text("three.png")
    expect(card(page, "three.png")).to_have_attribute("aria-current", "true")
    assert card(page, "one.png").get_attribute("aria-current") is None
    page.keyboard.press("ArrowLeft")
    page.keyboard.press(" ")
    expect(page.locator("#viewer-name")).to_have_text("two.png")
    # Tab reaches the choosers, the buttons, the cards and the viewer (its split line appears
    # with a result: the other tests use it by keyboard).
    reached = set()
    page.focus("#choose-files")
    for _ in range(40):
        reached.add(
            page.evaluate("document.activeElement.id || document.activeElement.dataset.path")
        )
        page.keyboard.press("Tab")
    assert {
        "choose-files",
        "choose-folder",
        "run",
        "one.png",
        "two.png",
        "three.png",
        "viewer",
        "zoom-100",
    } <= reached


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(fg: tuple, bg: tuple) -> float:
    light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _rgb(css: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in re.findall(r"[\d.]+", css)]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def test_status_colours_are_readable(page, server):
    """Every state badge, button and label used on the page: text against its own background
    at least 4.5:1 (WCAG AA for normal text), measured from the computed styles."""
    open_page(page, server)
    samples = page.evaluate(
        """() => {
        const out = {};
        const probe = (key, tag, cls, parent) => {
          const el = document.createElement(tag);
          el.className = cls;
          el.textContent = "Sample";
          (parent || document.getElementById("grid")).append(el);
          const style = getComputedStyle(el);
          out[key] = [style.color, style.backgroundColor];
          el.remove();
        };
        for (const s of ["queued", "sending", "running", "done", "warning", "failed", "cancelled"])
          probe("state-" + s, "p", "state state-" + s);
        probe("primary", "button", "primary");
        probe("secondary", "button", "secondary");
        probe("danger", "button", "danger");
        const off = document.createElement("button");
        off.className = "primary"; off.disabled = true; off.textContent = "x";
        document.body.append(off);
        const st = getComputedStyle(off);
        out["primary-disabled"] = [st.color, st.backgroundColor];
        off.remove();
        probe("lock", "p", "settings-lock", document.getElementById("settings-panel"));
        return out;
    }"""
    )
    for key, (fg, bg) in samples.items():
        fg_rgb, bg_rgb = _rgb(fg), _rgb(bg)
        assert bg_rgb[3] == 1.0, (key, bg)  # opaque: the measure is exact
        ratio = _contrast(fg_rgb[:3], bg_rgb[:3])
        assert ratio >= 4.5, f"{key}: {fg} on {bg} is {ratio:.2f}:1"
    # Help text and the top bar's status on their backgrounds.
    help_color = _rgb(page.evaluate("getComputedStyle(document.querySelector('.help')).color"))
    assert _contrast(help_color[:3], (255, 255, 255)) >= 4.5
    status = _rgb(page.evaluate("getComputedStyle(document.getElementById('status')).color"))
    top = _rgb(page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor"))
    assert _contrast(status[:3], top[:3]) >= 4.5


# ---------------------------------------------------------------------------------- screens


@pytest.mark.parametrize("width,height,label", [(1366, 900, "1366"), (420, 900, "420")])
def test_screenshots(browser, server, width, height, label):
    """Screenshots for a person to look at: out/web-screens/*.png (token screen, empty page,
    a finished batch with the before/after view, a framed result)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{server.http_url}/#token=wrong-token", timeout=WAIT)
        page.wait_for_selector("#token-panel:not([hidden])", timeout=WAIT)
        save_screen(page, f"{label}-token-refused")
        page.fill("#token-input", server.token)
        page.click("#token-form button")
        page.wait_for_selector("body[data-ready='1']", timeout=WAIT)
        save_screen(page, f"{label}-empty")
        files = {
            "ring-yellow.png": jewel_png(1),
            "ring-rose.png": jewel_png(2),
            "ring-white.png": jewel_png(3),
            "on-the-table.png": png_bytes(4, size=(420, 560)),  # no studio backdrop: a warning
            "broken.png": b"\x89PNG\r\n\x1a\nxx",
        }
        upload(page, files)
        run_and_wait(page)
        card(page, "ring-yellow.png").click()
        expect(page.locator("#viewer")).to_have_attribute("data-loaded", "1", timeout=WAIT)
        save_screen(page, f"{label}-batch")
        page.locator("#viewer").scroll_into_view_if_needed()
        save_screen(page, f"{label}-compare")
        page.evaluate("window.scrollTo(0, 0)")  # (the sticky settings panel starts at the top)
        save_screen(page, f"{label}-full", full_page=True)
        if width < 900:
            # One column: drop zone first, then the presets (the rest folded), the batch
            # buttons, the images and the large view.
            tops = [
                box(page, sel)["y"]
                for sel in ("#drop-zone", "#presets", "#run", "#grid", "#viewer")
            ]
            assert tops == sorted(tops), tops
            expect(page.locator("#opt-background")).to_be_hidden()
            page.click("#settings-details > summary")
            expect(page.locator("#opt-background")).to_be_visible()
            save_screen(page, f"{label}-settings", full_page=True)
        page.locator("#presets button[data-preset='marketplace-white']").click()
        page.fill("#opt-canvas_size", "600")
        run_and_wait(page, runs=2)
        card(page, "ring-rose.png").click()
        expect(page.locator("#after-img")).to_have_js_property("naturalWidth", 600, timeout=WAIT)
        expect(page.locator("#viewer")).to_have_attribute("data-loaded", "1", timeout=WAIT)
        page.locator("#viewer").scroll_into_view_if_needed()
        save_screen(page, f"{label}-framed")
        page.click("#zoom-100")
        save_screen(page, f"{label}-zoom-100")
    finally:
        context.close()
    assert errors == []
    for name in ("token-refused", "empty", "batch", "compare", "full", "framed", "zoom-100"):
        assert (SCREENS / f"{label}-{name}.png").stat().st_size > 1000
