"""The GIMP 3 plug-in inside real GIMP 3 (headless, trixie chroot) against a real server.

All scenarios run in one GIMP launch (tests/gimp/gimp3_batch.py), the wrong-token case in a
second one; each test below asserts on one scenario of the report. Expected pixels are the
server's own answer for the same region (HTTP POST of the region's raw bytes), so the tests
hold whatever the model does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

PROC = "python-fu-jewel-retouch"
# The first test may build the GIMP 3 chroot (a few minutes on a fresh machine).
pytestmark = pytest.mark.timeout(1800)
RNG = np.random.default_rng(20261128)


def gtk_problems(log: str) -> list[str]:
    """Lines of a GIMP log reporting GTK/GLib criticals or GTK warnings (never acceptable)."""
    return [line for line in log.splitlines() if "CRITICAL" in line or "Gtk-WARNING" in line]


def random_pixels(height: int, width: int, channels: int, depth: int) -> np.ndarray:
    if depth == 8:
        return RNG.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return RNG.integers(0, 65536, (height, width, channels), dtype=np.uint16)


def raw(pixels: np.ndarray) -> bytes:
    return pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()


def load(path: str, shape: tuple[int, int, int], depth: int) -> np.ndarray:
    dtype = np.uint8 if depth == 8 else np.dtype("<u2")
    return np.frombuffer(Path(path).read_bytes(), dtype).reshape(shape)


class Scenario:
    """One image set-up: its source pixels (kept for computing the expectation) and spec."""

    def __init__(
        self,
        name,
        image,
        layer_type,
        layer_format,
        pixels,
        offsets=(0, 0),
        selection=None,
        args=None,
        dump_format=None,
    ):
        self.name = name
        self.pixels = pixels
        self.offsets = offsets
        self.selection = selection
        self.spec = {
            "name": name,
            "image": image,
            "layer": {
                "width": pixels.shape[1],
                "height": pixels.shape[0],
                "offsets": list(offsets),
                "type": layer_type,
                "format": layer_format,
            },
            "selection": selection,
            "args": args or {},
            "dump_format": dump_format or layer_format,
        }

    def region(self, image_w: int, image_h: int) -> tuple[int, int, int, int]:
        """The expected region in layer coordinates: the selection box clipped to the layer
        (the whole layer without a selection, even where it lies off the canvas)."""
        height, width = self.pixels.shape[:2]
        if not self.selection:
            return 0, 0, width, height
        sel = self.selection
        ox, oy = self.offsets
        x0 = max(sel["x"], ox, 0)
        y0 = max(sel["y"], oy, 0)
        x1 = min(sel["x"] + sel["w"], ox + width, image_w)
        y1 = min(sel["y"] + sel["h"], oy + height, image_h)
        return x0 - ox, y0 - oy, x1 - x0, y1 - y0


IMAGE_W, IMAGE_H = 64, 48


def rgb_image(precision="u8", **extra):
    return dict(width=IMAGE_W, height=IMAGE_H, base="rgb", precision=precision, **extra)


def build_scenarios(
    server_url: str,
    dead_url: str,
    hanging_url: str,
    failing_url: str,
    fake_url: str,
    damaging_url: str,
) -> dict[str, Scenario]:
    args = {"server-url": server_url}
    rgba8 = random_pixels(IMAGE_H, IMAGE_W, 4, 8)
    rgba8[..., 3] = np.maximum(rgba8[..., 3], 1)  # fully transparent pixels may lose colour
    rgba16 = random_pixels(IMAGE_H, IMAGE_W, 4, 16)
    rgba16[..., 3] = np.maximum(rgba16[..., 3], 256)
    rgb8 = random_pixels(IMAGE_H, IMAGE_W, 3, 8)
    grey = random_pixels(IMAGE_H, IMAGE_W, 2, 8)
    grey[..., 1] = 255
    scenarios = [
        Scenario(
            "rect8",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8,
            selection={"kind": "rect", "x": 10, "y": 6, "w": 30, "h": 20},
            args=args,
        ),
        Scenario("whole16", rgb_image("u16"), "rgba", "R'G'B'A u16", rgba16, args=args),
        Scenario(
            "ellipse8",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            selection={"kind": "ellipse", "x": 8, "y": 4, "w": 40, "h": 30},
            args=args,
        ),
        Scenario(
            "ellipse16",
            rgb_image("u16"),
            "rgba",
            "R'G'B'A u16",
            rgba16.copy(),
            selection={"kind": "ellipse", "x": 20, "y": 10, "w": 30, "h": 30},
            args=args,
        ),
        Scenario(
            "no_alpha",
            rgb_image(),
            "rgb",
            "R'G'B' u8",
            rgb8,
            selection={"kind": "rect", "x": 0, "y": 0, "w": 50, "h": 40},
            args=args,
            dump_format="R'G'B'A u8",
        ),
        Scenario(
            "offsets",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            random_pixels(30, 40, 4, 8) | np.array([0, 0, 0, 1], np.uint8),
            offsets=(15, 10),
            selection={"kind": "rect", "x": 5, "y": 5, "w": 30, "h": 20},
            args=args,
        ),
        Scenario(
            "bigger_than_canvas",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            random_pixels(60, 80, 4, 8) | np.array([0, 0, 0, 1], np.uint8),
            offsets=(-8, -6),
            args=args,
        ),
        Scenario(
            "layers",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            selection={"kind": "rect", "x": 4, "y": 8, "w": 36, "h": 24},
            args=dict(args, output="layers"),
        ),
        Scenario(
            "grey",
            dict(rgb_image(), base="gray"),
            "graya",
            "Y'A u8",
            grey,
            selection={"kind": "rect", "x": 2, "y": 2, "w": 40, "h": 30},
            args=args,
            dump_format="R'G'B'A u8",
        ),
        Scenario("indexed", rgb_image(indexed=True), "rgb", "R'G'B' u8", rgb8.copy(), args=args),
        Scenario(
            "server_down",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            args={"server-url": dead_url},
        ),
        Scenario(
            "over_limit",
            dict(rgb_image(), width=300, height=200),
            "rgba",
            "R'G'B'A u8",
            random_pixels(200, 300, 4, 8),
            args=args,
        ),
        Scenario(
            "options",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            selection={"kind": "rect", "x": 0, "y": 0, "w": 16, "h": 16},
            args=dict(args, metal="rose_gold", strength=0.25, cleanup=False),
        ),
        Scenario(
            "variants",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            selection={"kind": "rect", "x": 0, "y": 0, "w": 16, "h": 16},
            args=dict(args, **{"metal-variants": "white_gold,silver"}),
        ),
        Scenario(
            "client_timeout",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            args={"server-url": hanging_url, "timeout": 1.0},
        ),
        Scenario(
            "server_error",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            args={"server-url": failing_url},
        ),
        Scenario(
            "group_warnings",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            selection={"kind": "rect", "x": 3, "y": 2, "w": 20, "h": 12},
            args={"server-url": fake_url},
        ),
        Scenario(
            "group_insert_fails",
            rgb_image(),
            "rgba",
            "R'G'B'A u8",
            rgba8.copy(),
            selection={"kind": "ellipse", "x": 4, "y": 4, "w": 30, "h": 20},
            args={"server-url": damaging_url, "output": "layers"},
        ),
    ]
    for name in ("group_warnings", "group_insert_fails"):
        scenarios[-1 if name == "group_insert_fails" else -2].spec["layer"]["in_group"] = True
    return {scenario.name: scenario for scenario in scenarios}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def scenarios(
    gimp_server, hanging_server, failing_server, fake_server_factory
) -> dict[str, Scenario]:
    return build_scenarios(
        gimp_server.http_url,
        f"http://127.0.0.1:{free_port()}",
        hanging_server,
        failing_server,
        fake_server_factory().url,
        fake_server_factory(broken_mask="metal").url,
    )


@pytest.fixture(scope="module")
def hanging_server():
    """A port that accepts connections (kernel backlog) and never answers."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture(scope="module")
def failing_server():
    """An HTTP server that answers every request with the server's 500 error shape."""
    import http.server
    import json
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(
                {"error": {"code": "internal", "message": "model crashed (test)."}}
            ).encode()
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def gimp_report(gimp_session, chroot_config_dir, scenarios) -> dict[str, dict]:
    out_dir = gimp_session.new_dir("main")
    specs = []
    for scenario in scenarios.values():
        pixel_file = out_dir / f"{scenario.name}.source.raw"
        pixel_file.write_bytes(raw(scenario.pixels))
        spec = dict(scenario.spec)
        spec["layer"] = dict(spec["layer"], pixels=str(gimp_session.chroot_path(pixel_file)))
        specs.append(spec)
    report = gimp_session.run_batch({"proc": PROC, "scenarios": specs}, chroot_config_dir, out_dir)
    logs = scenario_logs(gimp_session.last_log)
    by_name = {}
    for entry in report:
        assert "crash" not in entry, entry["crash"]
        entry["log"] = logs.get(entry["name"], "")
        by_name[entry["name"]] = {"report": entry, "paths": gimp_session.host_path}
    return by_name


def scenario_logs(log: str) -> dict[str, str]:
    """GIMP's stderr split per scenario (the batch writes "scenario NAME done" after each)."""
    out, lines = {}, []
    for line in log.splitlines():
        if line.startswith("scenario ") and line.endswith(" done"):
            out[line[len("scenario ") : -len(" done")]] = "\n".join(lines)
            lines = []
        else:
            lines.append(line)
    return out


def result_of(gimp_report, name):
    entry = gimp_report[name]["report"]
    to_host = gimp_report[name]["paths"]
    return entry, to_host


def assert_success(entry):
    assert entry["status"] == "success", entry["error"]
    assert entry["source_after"] == entry["source_before"], "the original layer was modified"
    # The new item sits directly above the original, nothing else moved.
    assert entry["layers_after"][0] == "top"
    assert entry["layers_after"][2:] == ["source", "bottom"]
    assert len(entry["layers_after"]) == 4
    return entry["new"]


def assert_failed_cleanly(entry, *phrases):
    assert entry["status"] == "execution-error", entry
    assert entry["layers_after"] == entry["layers_before"], "a layer was left behind"
    assert [c["name"] for c in entry["channels_after"]] == entry["channels_before"]
    assert entry["source_after"] == entry["source_before"]
    for phrase in phrases:
        assert phrase in entry["error"], entry["error"]


def expect_plain_layer(gimp_report, scenarios, retouch_via_http, name, depth):
    entry, to_host = result_of(gimp_report, name)
    new = assert_success(entry)
    scenario = scenarios[name]
    x, y, w, h = scenario.region(IMAGE_W, IMAGE_H)
    assert new["name"] == "Jewel retouch" and not new["is_group"]
    assert new["offsets"] == [scenario.offsets[0] + x, scenario.offsets[1] + y]
    assert (new["width"], new["height"]) == (w, h)
    expected = retouch_via_http(np.ascontiguousarray(scenario.pixels[y : y + h, x : x + w]))
    got = load(to_host(new["pixels"]), (h, w, 4), depth)
    return entry, scenario, (x, y, w, h), expected, got


def test_rectangular_selection_8bit(gimp_report, scenarios, retouch_via_http):
    _, _, _, expected, got = expect_plain_layer(
        gimp_report, scenarios, retouch_via_http, "rect8", 8
    )
    np.testing.assert_array_equal(got, expected)


def test_whole_layer_16bit_keeps_full_depth(gimp_report, scenarios, retouch_via_http):
    entry, _, _, expected, got = expect_plain_layer(
        gimp_report, scenarios, retouch_via_http, "whole16", 16
    )
    assert "u16" in entry["new"]["format"]
    np.testing.assert_array_equal(got, expected)
    assert np.any(got % 257 != 0), "16-bit values were squeezed through 8 bits"


@pytest.mark.parametrize("name, depth", [("ellipse8", 8), ("ellipse16", 16)])
def test_elliptical_selection_masks_the_result(
    gimp_report, scenarios, retouch_via_http, name, depth
):
    entry, scenario, (x, y, w, h), expected, got = expect_plain_layer(
        gimp_report, scenarios, retouch_via_http, name, depth
    )
    _, to_host = result_of(gimp_report, name)
    selection = np.frombuffer(to_host(entry["selection"]).read_bytes(), np.uint8)
    selection = selection.reshape(IMAGE_H, IMAGE_W)[y : y + h, x : x + w]
    inside, outside = selection == 255, selection == 0
    assert inside.sum() > 100 and outside.sum() > 10
    np.testing.assert_array_equal(got[inside], expected[inside])
    assert np.all(got[outside][:, 3] == 0), "pixels outside the selection are not masked"
    edge = ~inside & ~outside
    full = 255 if depth == 8 else 65535
    want_alpha = expected[edge][:, 3].astype(float) * selection[edge] / 255
    assert np.all(np.abs(got[edge][:, 3] - want_alpha) <= full / 255 + 1)


def test_layer_without_alpha(gimp_report, scenarios, retouch_via_http):
    entry, _, _, expected, got = expect_plain_layer(
        gimp_report, scenarios, retouch_via_http, "no_alpha", 8
    )
    assert expected.shape[2] == 3  # sent as RGB, answered as RGB
    np.testing.assert_array_equal(got[..., :3], expected)
    assert np.all(got[..., 3] == 255)


def test_layer_with_offsets(gimp_report, scenarios, retouch_via_http):
    _, _, region, expected, got = expect_plain_layer(
        gimp_report, scenarios, retouch_via_http, "offsets", 8
    )
    assert region == (0, 0, 20, 15)
    np.testing.assert_array_equal(got, expected)


def test_layer_bigger_than_canvas_is_processed_whole(gimp_report, scenarios, retouch_via_http):
    entry, _, region, expected, got = expect_plain_layer(
        gimp_report, scenarios, retouch_via_http, "bigger_than_canvas", 8
    )
    assert region == (0, 0, 80, 60)
    assert entry["new"]["offsets"] == [-8, -6]
    np.testing.assert_array_equal(got, expected)


def test_options_reach_the_server(gimp_report, scenarios, retouch_via_http):
    # The batch passed metal/strength/cleanup as procedure arguments: the layer is the server's
    # answer for those options, which differs from its answer with the defaults.
    _, scenario, (x, y, w, h), with_defaults, got = expect_plain_layer(
        gimp_report, scenarios, retouch_via_http, "options", 8
    )
    region = np.ascontiguousarray(scenario.pixels[y : y + h, x : x + w])
    options = {"metal": "rose_gold", "strength": 0.25, "cleanup": False}
    np.testing.assert_array_equal(got, retouch_via_http(region, options=options))
    assert not np.array_equal(got, with_defaults)


def test_metal_variants_become_layers_under_the_result(gimp_report, scenarios, retouch_via_http):
    entry, to_host = result_of(gimp_report, "variants")
    assert entry["status"] == "success", entry["error"]
    assert entry["source_after"] == entry["source_before"]
    assert entry["layers_after"] == [
        "top", "Jewel retouch", "Jewel retouch (white gold)", "Jewel retouch (silver)", "source",
        "bottom",
    ]
    scenario = scenarios["variants"]
    x, y, w, h = scenario.region(IMAGE_W, IMAGE_H)
    region = np.ascontiguousarray(scenario.pixels[y : y + h, x : x + w])
    parts = retouch_via_http(region, options={"metal_variants": ["white_gold", "silver"]},
                             layers=True)
    new = entry["new"]  # the layer directly above the source: the last variant
    assert new["name"] == "Jewel retouch (silver)" and new["offsets"] == [x, y]
    got = load(to_host(new["pixels"]), (h, w, 4), 8)
    np.testing.assert_array_equal(got, parts["silver"][1])


def test_output_layers_builds_a_group(gimp_report, scenarios, retouch_via_http):
    entry, to_host = result_of(gimp_report, "layers")
    new = assert_success(entry)
    scenario = scenarios["layers"]
    x, y, w, h = scenario.region(IMAGE_W, IMAGE_H)
    assert new["is_group"] and new["name"] == "Jewel retouch (layers)"
    parts = retouch_via_http(
        np.ascontiguousarray(scenario.pixels[y : y + h, x : x + w]), layers=True
    )
    children = {child["name"]: child for child in new["children"]}
    layer_parts = [name for name, (part, _) in parts.items() if part["kind"] == "layer"]
    expected_layers = [name.capitalize() for name in layer_parts] or ["Retouched"]
    for name in expected_layers:
        child = children[name]
        assert child["offsets"] == [x, y] and (child["width"], child["height"]) == (w, h)
        source = parts[name.lower()] if name != "Retouched" else parts["image"]
        got = load(to_host(child["pixels"]), (h, w, 4), 8)
        want = source[1]
        if want.shape[2] == 3:
            want = np.dstack([want, np.full(want.shape[:2], 255, np.uint8)])
        np.testing.assert_array_equal(got, want)
    masks = {name: data for name, (part, data) in parts.items() if part["kind"] == "mask"}
    channels = {c["name"]: c for c in entry["channels_after"]}
    for name, data in masks.items():
        channel = channels[f"Jewel retouch: {name} mask"]
        assert not channel["visible"]
        plane = np.frombuffer(to_host(channel["pixels"]).read_bytes(), np.uint8)
        plane = plane.reshape(IMAGE_H, IMAGE_W)
        np.testing.assert_array_equal(plane[y : y + h, x : x + w], data[..., 0])
        assert plane.sum() == data.astype(np.int64).sum()  # nothing outside the region
    if "gem" in masks:
        gems = children["Gems (retouched)"]
        assert gems["has_mask"]
        mask = np.frombuffer(to_host(gems["mask"]).read_bytes(), np.uint8).reshape(h, w)
        np.testing.assert_array_equal(mask, masks["gem"][..., 0])


def test_greyscale_image_is_converted_and_back(gimp_report, scenarios, retouch_via_http):
    entry, to_host = result_of(gimp_report, "grey")
    new = assert_success(entry)
    scenario = scenarios["grey"]
    x, y, w, h = scenario.region(IMAGE_W, IMAGE_H)
    assert new["offsets"] == [x, y]
    assert new["format"].startswith("Y")  # a grey layer in a grey image
    region = scenario.pixels[y : y + h, x : x + w]
    sent = np.dstack([region[..., 0]] * 3 + [region[..., 1]])  # what GIMP sends: R=G=B=Y
    expected = retouch_via_http(np.ascontiguousarray(sent)).astype(float) / 255
    linear = np.where(expected <= 0.04045, expected / 12.92, ((expected + 0.055) / 1.055) ** 2.4)
    luminance = linear[..., :3] @ np.array([0.2225, 0.7169, 0.0606])
    encoded = np.where(
        luminance <= 0.0031308, luminance * 12.92, 1.055 * luminance ** (1 / 2.4) - 0.055
    )
    got = load(to_host(new["pixels"]), (h, w, 4), 8)
    assert np.all(np.abs(got[..., 0].astype(float) - encoded * 255) <= 2)
    assert np.all(got[..., 3] == np.round(expected[..., 3] * 255))


def test_indexed_image_is_refused_with_advice(gimp_report):
    entry, _ = result_of(gimp_report, "indexed")
    assert_failed_cleanly(entry, "Image > Mode > RGB")


def test_server_down_says_how_to_start_it(gimp_report, scenarios):
    entry, _ = result_of(gimp_report, "server_down")
    url = scenarios["server_down"].spec["args"]["server-url"]
    assert_failed_cleanly(entry, "not running at " + url, "jewel-retouch serve")
    # One message: the error returned to GIMP, which prints it once ("Calling error for
    # procedure ..."; a dialog in GIMP's window); no second copy of its own.
    assert entry["log"].count("not running at") == 1, entry["log"]
    assert "Calling error for procedure" in entry["log"], entry["log"]


def test_no_scenario_prints_gtk_criticals_or_warnings(gimp_report):
    for name, item in gimp_report.items():
        problems = gtk_problems(item["report"]["log"])
        assert not problems, (name, problems)


def test_progress_text_names_each_stage(gimp_report):
    entry, _ = result_of(gimp_report, "rect8")
    texts = entry["progress"]
    assert texts[0] == "Jewel retouch: sending the pixels...", texts
    assert "Jewel retouch: waiting for the server..." in texts, texts
    assert texts[-1] == "Jewel retouch: receiving the result...", texts
    # The server's own stages come in between, as it announces them.
    assert len(texts) > 3, texts


def test_client_timeout_says_what_to_do(gimp_report):
    entry, _ = result_of(gimp_report, "client_timeout")
    assert_failed_cleanly(entry, "did not answer", "within 1 s", "jewel-retouch serve")


def test_server_error_is_reported(gimp_report):
    entry, _ = result_of(gimp_report, "server_error")
    assert_failed_cleanly(entry, "model crashed (test).", "jewel-retouch serve")


def test_image_over_the_limit_is_refused_before_sending(gimp_report, gimp_server):
    entry, _ = result_of(gimp_report, "over_limit")
    assert_failed_cleanly(entry, "too large", "smaller region")


def test_wrong_token_says_what_to_do(gimp_session, gimp_server, scenarios):
    out_dir = gimp_session.new_dir("wrong-token")
    config = gimp_session.new_dir("wrong-token-config")
    (config / "token").write_text("not-the-servers-token-" + "x" * 21)
    scenario = scenarios["rect8"]
    pixel_file = out_dir / "source.raw"
    pixel_file.write_bytes(raw(scenario.pixels))
    spec = dict(scenario.spec, name="wrong_token")
    spec["layer"] = dict(spec["layer"], pixels=str(gimp_session.chroot_path(pixel_file)))
    report = gimp_session.run_batch(
        {"proc": PROC, "scenarios": [spec]}, gimp_session.chroot_path(config), out_dir
    )
    assert "crash" not in report[0], report[0]
    assert_failed_cleanly(report[0], "refused the access token", "jewel-retouch serve")
    assert not gtk_problems(gimp_session.last_log), gimp_session.last_log


def test_source_in_a_group_gets_the_result_beside_it_and_the_warnings(
    gimp_report, scenarios, fake_server
):
    entry, to_host = result_of(gimp_report, "group_warnings")
    assert entry["status"] == "success", entry["error"]
    assert entry["source_after"] == entry["source_before"]
    assert entry["group_before"] == ["sibling", "source"]
    assert entry["group_after"] == ["sibling", "Jewel retouch", "source"]
    assert entry["layers_after"] == entry["layers_before"]  # nothing new at the top level
    scenario = scenarios["group_warnings"]
    x, y, w, h = scenario.region(IMAGE_W, IMAGE_H)
    new = entry["new"]
    assert new["offsets"] == [x, y] and (new["width"], new["height"]) == (w, h)
    got = load(to_host(new["pixels"]), (h, w, 4), 8)
    np.testing.assert_array_equal(got, scenario.pixels[y : y + h, x : x + w])  # (an echo)
    # Shown once, after the paste, through Gimp.message (batch GIMP prints it on stderr).
    assert "finished with 2 warnings" in entry["log"], entry["log"]
    for warning in fake_server.warnings:
        assert entry["log"].count("- " + warning["message"]) == 1, entry["log"]


def test_a_failure_in_the_middle_of_the_insert_leaves_nothing_behind(gimp_report):
    # The damaged answer's "metal" mask is one byte short: the group, its layer and the
    # "piece" mask channel are in the image when the "metal" channel fails.
    entry, _ = result_of(gimp_report, "group_insert_fails")
    assert entry["status"] == "execution-error", entry
    assert "metal part has" in entry["error"] and "damaged" in entry["error"], entry["error"]
    assert entry["group_after"] == entry["group_before"] == ["sibling", "source"]
    assert entry["layers_after"] == entry["layers_before"]
    assert [c["name"] for c in entry["channels_after"]] == entry["channels_before"] == []
    assert entry["source_after"] == entry["source_before"]
    assert "new" not in entry
