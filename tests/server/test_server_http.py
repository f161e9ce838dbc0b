"""The HTTP API through Flask's test client: forms of input and answer, auth, Host, Origin,
and every bad-input case (a clear 4xx, never a 500)."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

import models
from models.api import ImageData, ImageError, Result, RetouchOptions
from server.imageio import read_image

RAW = "application/octet-stream"


def post_raw(client, auth, px, **headers):
    h, w, c = px.shape
    depth = 8 if px.dtype == np.uint8 else 16
    all_headers = {
        **auth,
        "Content-Type": RAW,
        "X-Width": str(w),
        "X-Height": str(h),
        "X-Channels": str(c),
        "X-Depth": str(depth),
        **headers,
    }
    return client.post(
        "/v1/retouch", data=px.astype(px.dtype.newbyteorder("<")).tobytes(), headers=all_headers
    )


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_health_needs_no_token(client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "version": "0.1.0"}


def test_info_publishes_the_options_schema_and_limits(make_app, auth):
    app, state = make_app(max_pixels=5_000_000)
    body = app.test_client().get("/v1/info", headers=auth).get_json()
    assert body["options"] == models.options_schema()
    names = [o["name"] for o in body["options"]]
    assert "background" in names and "strength" in names
    strength = next(o for o in body["options"] if o["name"] == "strength")
    assert strength["minimum"] == 0.0 and strength["maximum"] == 1.0
    assert body["limits"]["max_pixels"] == 5_000_000
    assert body["limits"]["max_body_bytes"] == state.config.max_body_bytes
    assert set(body["formats"]["input"]) >= {"raw", "png", "tiff", "jpeg", "webp"}
    assert body["model"] == {"name": "identity", "version": "0"}
    assert body["websocket"]["url"].startswith("ws://127.0.0.1:")


def test_openapi_document_is_valid_and_served_as_in_the_repo(client, auth):
    from pathlib import Path

    from openapi_spec_validator import validate

    served = client.get("/v1/openapi.json", headers=auth)
    assert served.status_code == 200
    doc = served.get_json()
    validate(doc)
    repo_doc = json.loads((Path(__file__).parents[2] / "server" / "openapi.json").read_text())
    validate(repo_doc)
    assert doc["paths"] == repo_doc["paths"]
    assert doc["components"]["responses"] == repo_doc["components"]["responses"]
    assert doc["openapi"].startswith("3.1")
    # The options schema in the document follows the model's, option by option.
    props = doc["components"]["schemas"]["RetouchOptions"]["properties"]
    for spec in models.OPTION_SPECS:
        if spec.type == "list":
            assert props[spec.name]["default"] == list(spec.default)
            assert props[spec.name]["items"]["enum"] == list(spec.choices)
            continue
        assert props[spec.name]["default"] == spec.default
        if spec.choices:
            assert props[spec.name]["enum"] == list(spec.choices)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("depth", [8, 16])
def test_raw_pixels_come_back_byte_for_byte_in_the_same_layout(client, auth, img, channels, depth):
    px = img.pixels(13, 17, channels, depth, seed=channels * depth)
    response = post_raw(client, auth, px)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == RAW
    assert response.headers["X-Width"] == "17" and response.headers["X-Height"] == "13"
    assert response.headers["X-Channels"] == str(channels)
    assert response.headers["X-Depth"] == str(depth)
    dtype = np.uint8 if depth == 8 else np.dtype("<u2")
    back = np.frombuffer(response.get_data(), dtype).reshape(px.shape)
    np.testing.assert_array_equal(back, px)


def test_raw_layout_from_query_parameters(client, auth, img):
    px = img.pixels(4, 5, 3, 8)
    response = client.post(
        "/v1/retouch?width=5&height=4&channels=3&depth=8",
        data=px.tobytes(),
        headers={**auth, "Content-Type": RAW},
    )
    assert response.status_code == 200
    assert response.get_data() == px.tobytes()


class OptionsReporter:
    """A model that reports the options it ran with in its run info (the layers manifest's
    `info`), so a test sees what reached the model through the API alone."""

    name = "options-reporter"
    version = "0"

    def retouch(self, image, options=None, progress=None, layers=False):
        info = {"options": options.to_dict()}
        return Result(ImageData(np.array(image.pixels, copy=True), image.icc_profile), info=info)


class ColourInverter:
    """A model that only takes RGB or RGBA (like the real one's analysis) and inverts the
    colour channels, keeping alpha."""

    name = "colour-inverter"
    version = "0"

    def retouch(self, image, options=None, progress=None, layers=False):
        pixels = image.pixels
        if pixels.shape[2] not in (3, 4):
            raise ImageError(f"this model takes RGB or RGBA, not {pixels.shape[2]} channels")
        top = np.iinfo(pixels.dtype).max
        out = pixels.copy()
        out[..., :3] = top - pixels[..., :3]
        return Result(ImageData(out, image.icc_profile))


def run_info_of(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    return json.loads(archive.read("manifest.json"))["info"]


def test_options_reach_the_model_validated_with_defaults(make_app, auth, img):
    app, _ = make_app(retoucher=OptionsReporter())
    client = app.test_client()
    px = img.pixels(4, 4, 3, 8)
    options = {"background": "transparent", "strength": 0.25, "cleanup": False}
    sent = post_raw(client, auth, px, **{"X-Options": json.dumps(options), "X-Layers": "1"})
    ran_with = run_info_of(sent)["options"]
    assert ran_with == {**RetouchOptions().to_dict(), **options}
    by_query = client.post(
        "/v1/retouch?width=4&height=4&channels=3&depth=8&layers=1&options="
        + json.dumps({"metal": "silver", "canvas_size": 7.0}),
        data=px.tobytes(),
        headers={**auth, "Content-Type": RAW},
    )
    ran_with = run_info_of(by_query)["options"]
    assert ran_with["metal"] == "silver" and ran_with["canvas_size"] == 7
    assert ran_with["background"] == RetouchOptions().background


def test_grey_input_is_widened_for_the_model_and_narrowed_back(make_app, auth, img):
    app, _ = make_app(retoucher=ColourInverter())
    px = img.pixels(6, 7, 2, 16)  # grey + alpha, 16 bit
    response = post_raw(app.test_client(), auth, px)
    assert response.status_code == 200, response.get_data(as_text=True)
    back = np.frombuffer(response.get_data(), "<u2").reshape(px.shape)
    np.testing.assert_array_equal(back[..., 0], 65535 - px[..., 0])  # the model's work, kept
    np.testing.assert_array_equal(back[..., 1], px[..., 1])  # alpha untouched
    grey = img.pixels(5, 3, 1, 8)
    response = post_raw(app.test_client(), auth, grey)
    back = np.frombuffer(response.get_data(), np.uint8).reshape(grey.shape)
    np.testing.assert_array_equal(back, 255 - grey)


@pytest.mark.parametrize(
    "fmt, mime, channels, depth",
    [
        ("png", "image/png", 3, 8),
        ("png", "image/png", 4, 8),
        ("png", "image/png", 1, 8),
        ("png", "image/png", 4, 16),
        ("png", "image/png", 3, 16),
        ("tiff", "image/tiff", 4, 16),
        ("tiff", "image/tiff", 3, 8),
        ("tiff", "image/tiff", 1, 16),
        ("jpeg", "image/jpeg", 3, 8),
        ("webp", "image/webp", 4, 8),
    ],
)
def test_encoded_files_come_back_in_the_same_format_depth_channels_and_profile(
    client, auth, img, fmt, mime, channels, depth
):
    px = img.pixels(20, 24, channels, depth, seed=5)
    icc = img.other()
    if fmt == "png" and depth == 16:
        from models.api import ImageData
        from server.imageio import write_image

        # 16-bit colour PNG with an iCCP chunk: written by our encoder (checked against libpng
        # in test_server_imageio) since Pillow cannot write it.
        data = write_image(ImageData(px, icc), "png")
    elif fmt == "tiff":
        data = img.tiff_encode(px, icc=icc, compression="zlib")
    elif fmt == "webp":
        data = img.pil_encode(px, "WEBP", icc=icc, lossless=True)
    else:
        data = img.pil_encode(px, fmt.upper(), icc=icc)
    response = client.post("/v1/retouch", data=data, headers={**auth, "Content-Type": mime})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == mime
    image, info = read_image(response.get_data())
    assert (info.format, info.channels, info.depth) == (fmt, channels, depth)
    assert (info.width, info.height) == (24, 20)
    assert image.icc_profile == icc
    if fmt != "jpeg":  # lossless formats and the identity model: the file's own pixels
        np.testing.assert_array_equal(image.pixels, read_image(data)[0].pixels)


def test_form_upload_like_the_web_page(client, auth, img):
    px = img.pixels(8, 8, 4, 8)
    data = {
        "image": (io.BytesIO(img.pil_encode(px, "PNG")), "ring.png"),
        "options": json.dumps({"background": "white"}),
    }
    response = client.post(
        "/v1/retouch", data=data, headers=auth, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    np.testing.assert_array_equal(read_image(response.get_data())[0].pixels, px)
    response = client.post(
        "/v1/retouch", data={"other": "x"}, headers=auth, content_type="multipart/form-data"
    )
    assert_error(response, 400, "bad_request")


def test_layers_come_back_as_a_stored_zip_with_manifest_raw(client, auth, img):
    px = img.pixels(5, 6, 4, 16)
    response = post_raw(client, auth, px, **{"X-Layers": "1"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "raw" and manifest["depth"] == 16
    parts = {p["name"]: p for p in manifest["parts"]}
    assert parts["image"]["file"] == "image.raw"
    assert parts["tone"] == {
        **parts["tone"],
        "kind": "layer",
        "file": "layers/tone.raw",
        "channels": 4,
        "depth": 16,
    }
    assert parts["piece"]["file"] == "masks/piece.raw" and parts["piece"]["channels"] == 1
    image = np.frombuffer(archive.read("image.raw"), "<u2").reshape(px.shape)
    np.testing.assert_array_equal(image, px)
    tone = np.frombuffer(archive.read("layers/tone.raw"), "<u2").reshape(5, 6, 4)
    assert (tone[..., 3] == 65535 // 2).all()
    mask = np.frombuffer(archive.read("masks/piece.raw"), np.uint8).reshape(5, 6)
    np.testing.assert_array_equal(mask[0], np.arange(6))


def test_layers_for_an_encoded_input_are_png_files(client, auth, img):
    px = img.pixels(5, 6, 3, 8)
    response = client.post(
        "/v1/retouch?layers=1",
        data=img.pil_encode(px, "JPEG", icc=img.srgb()),
        headers={**auth, "Content-Type": "image/jpeg"},
    )
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = set(archive.namelist())
    assert {"manifest.json", "image.jpg", "layers/tone.png", "masks/piece.png"} <= names
    assert Image.open(io.BytesIO(archive.read("image.jpg"))).format == "JPEG"
    tone = Image.open(io.BytesIO(archive.read("layers/tone.png")))
    assert tone.mode == "RGBA" and tone.info["icc_profile"] == img.srgb()


def test_placeholder_or_real_model_keeps_the_layout(make_app, auth, img):
    """Through the project's own model (models.load()): the answer keeps size, depth, channels."""
    app, _ = make_app(retoucher=models.load())
    for channels, depth in ((3, 8), (4, 16), (1, 8)):
        px = img.pixels(24, 32, channels, depth)
        response = post_raw(app.test_client(), auth, px)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["X-Channels"] == str(channels)
        assert len(response.get_data()) == px.nbytes


# ---------------------------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/info", "/v1/openapi.json", "/v1/nothing"])
def test_everything_but_health_needs_the_token(client, path):
    assert_error(client.get(path), 401, "unauthorized")
    assert_error(client.get(path, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert_error(client.get(path, headers={"Authorization": "Basic abc"}), 401, "unauthorized")


def test_retouch_without_token_is_refused_before_reading(client, img):
    px = img.pixels(4, 4, 3, 8)
    response = client.post("/v1/retouch", data=px.tobytes(), headers=img.raw_headers(4, 4, 3, 8))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("host", ["evil.example", "192.168.1.10:8765", "attacker.com:8765", ""])
def test_non_loopback_host_header_is_refused(client, auth, host):
    response = client.get("/v1/health", headers={"Host": host})
    assert_error(response, 403, "forbidden")
    assert_error(client.get("/v1/info", headers={**auth, "Host": host}), 403, "forbidden")


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost", "[::1]:8765", "LOCALHOST:1"])
def test_loopback_host_headers_pass(client, auth, host):
    assert client.get("/v1/info", headers={**auth, "Host": host}).status_code == 200


def test_remote_mode_lifts_the_host_check(make_app, auth):
    app, _ = make_app(host="0.0.0.0", allow_remote=True)
    response = app.test_client().get("/v1/info", headers={**auth, "Host": "studio.lan:8765"})
    assert response.status_code == 200


def test_foreign_origin_is_refused_own_and_listed_origins_pass(make_app, auth):
    app, state = make_app(allowed_origins=("https://plugin.example",))
    client = app.test_client()
    assert_error(
        client.get("/v1/info", headers={**auth, "Origin": "https://evil.example"}), 403, "forbidden"
    )
    assert_error(client.get("/v1/health", headers={"Origin": "null"}), 403, "forbidden")
    for web in ("http://localhost:9999", "file://", "chrome-extension://abc", "https://127.0.0.1"):
        assert_error(client.get("/v1/info", headers={**auth, "Origin": web}), 403, "forbidden")
    # A plug-in runtime's own scheme (no web page can send it) is not a browser threat.
    assert client.get("/v1/info", headers={**auth, "Origin": "uxp://plugin"}).status_code == 200
    own = f"http://127.0.0.1:{state.config.port}"
    assert client.get("/v1/info", headers={**auth, "Origin": own}).status_code == 200
    response = client.get("/v1/info", headers={**auth, "Origin": "https://plugin.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers  # no CORS unless configured


def test_cors_only_when_configured(make_app, auth):
    app, _ = make_app(allowed_origins=("https://plugin.example",), cors=True)
    client = app.test_client()
    pre = client.options(
        "/v1/retouch",
        headers={"Origin": "https://plugin.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://plugin.example"
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    response = client.get("/v1/info", headers={**auth, "Origin": "https://plugin.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://plugin.example"
    refused = client.options("/v1/retouch", headers={"Origin": "https://evil.example"})
    assert_error(refused, 403, "forbidden")


# ---------------------------------------------------------------------------------------------
# Bad input: a clear 4xx, and the server keeps serving
# ---------------------------------------------------------------------------------------------


def _bad_requests(img):
    px = img.pixels(8, 8, 4, 8)
    raw = img.raw_headers
    png = img.pil_encode(px, "PNG")
    return [
        ("byte count short", px.tobytes()[:-1], raw(8, 8, 4, 8), 422, "invalid_pixels"),
        ("byte count long", px.tobytes() + b"x", raw(8, 8, 4, 8), 422, "invalid_pixels"),
        ("3 vs 4 channels", px.tobytes(), raw(8, 8, 3, 8), 422, "invalid_pixels"),
        ("8 vs 16 bit", px.tobytes(), raw(8, 8, 4, 16), 422, "invalid_pixels"),
        ("zero width", b"", raw(0, 8, 4, 8), 422, "invalid_pixels"),
        ("negative height", b"x", raw(8, -1, 4, 8), 422, "invalid_pixels"),
        ("absurd width", b"x", raw(10**9, 1, 4, 8), 413, "too_large"),
        ("absurd digits", b"x", raw(int("9" * 30), 1, 4, 8), 413, "too_large"),
        ("channels 5", b"x", raw(1, 1, 5, 8), 422, "invalid_pixels"),
        ("depth 32", b"x", raw(1, 1, 4, 32), 422, "invalid_pixels"),
        ("width not a number", b"x", raw("abc", 1, 4, 8), 400, "bad_request"),
        ("layout missing", px.tobytes(), {"Content-Type": RAW}, 400, "bad_request"),
        (
            "bad profile",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Color-Profile": "cmyk"}),
            400,
            "bad_request",
        ),
        (
            "options not JSON",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Options": "{background:"}),
            422,
            "invalid_options",
        ),
        (
            "options not object",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Options": "[1]"}),
            422,
            "invalid_options",
        ),
        (
            "unknown option",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Options": '{"sparkle": 1}'}),
            422,
            "invalid_options",
        ),
        (
            "out of range",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Options": '{"strength": 3}'}),
            422,
            "invalid_options",
        ),
        (
            "wrong type",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Options": '{"cleanup": "yes"}'}),
            422,
            "invalid_options",
        ),
        (
            "bad enum",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Options": '{"metal": "tin"}'}),
            422,
            "invalid_options",
        ),
        (
            "bad layers flag",
            px.tobytes(),
            raw(8, 8, 4, 8, **{"X-Layers": "maybe"}),
            400,
            "bad_request",
        ),
        ("truncated png", png[: len(png) // 2], {"Content-Type": "image/png"}, 400, "bad_request"),
        (
            "corrupt png",
            png[:40] + b"\x00" * 200,
            {"Content-Type": "image/png"},
            400,
            "bad_request",
        ),
        ("not an image", b"hello world", {"Content-Type": "image/png"}, 415, "unsupported_format"),
        ("png labelled jpeg", png, {"Content-Type": "image/jpeg"}, 415, "unsupported_format"),
        ("gif", b"GIF89a" + b"\x00" * 40, {"Content-Type": "image/gif"}, 415, "unsupported_format"),
        ("no content type", png, {}, 415, "unsupported_format"),
        ("json body", b"{}", {"Content-Type": "application/json"}, 415, "unsupported_format"),
        ("empty png", b"", {"Content-Type": "image/png"}, 415, "unsupported_format"),
    ]


def test_every_bad_input_gets_a_clear_4xx_and_the_server_keeps_serving(client, auth, img):
    good = img.pixels(8, 8, 4, 8)
    for name, body, headers, status, code in _bad_requests(img):
        response = client.post("/v1/retouch", data=body, headers={**auth, **headers})
        assert response.status_code == status, (name, response.get_data(as_text=True))
        assert response.get_json()["error"]["code"] == code, name
        ok = post_raw(client, auth, good)
        assert ok.status_code == 200, name


def test_too_many_pixels_and_oversized_bodies(make_app, auth, img):
    app, _ = make_app(max_pixels=10_000, max_body_bytes=50_000)
    client = app.test_client()
    px = img.pixels(101, 100, 1, 8)  # 10100 pixels > 10000
    assert_error(post_raw(client, auth, px), 413, "too_large")
    big = img.pil_encode(img.pixels(150, 150, 3, 8), "PNG")  # > 50 kB of noise
    assert len(big) > 50_000
    response = client.post("/v1/retouch", data=big, headers={**auth, "Content-Type": "image/png"})
    assert_error(response, 413, "too_large")
    assert "body" in response.get_json()["error"]["message"]
    bomb = img.pil_encode(np.zeros((1000, 1000, 1), np.uint8), "PNG")  # tiny file, 1 MP
    assert len(bomb) < 50_000
    response = client.post("/v1/retouch", data=bomb, headers={**auth, "Content-Type": "image/png"})
    assert_error(response, 413, "too_large")


def test_unknown_route_and_wrong_method(client, auth):
    assert_error(client.get("/v1/nothing", headers=auth), 404, "not_found")
    assert_error(client.get("/v1/retouch", headers=auth), 405, "method_not_allowed")


def test_a_crashing_model_gives_a_json_500_not_a_dead_server(make_app, auth, img):
    class Broken:
        name, version = "broken", "0"

        def retouch(self, image, options=None, progress=None, layers=False):
            raise RuntimeError("boom")

    app, _ = make_app(retoucher=Broken())
    response = post_raw(app.test_client(), auth, img.pixels(4, 4, 3, 8))
    assert_error(response, 500, "internal")


# ---------------------------------------------------------------------------------------------
# Queue: full -> 503 + Retry-After; timeout -> 504
# ---------------------------------------------------------------------------------------------


def test_queue_full_is_503_with_retry_after(make_app, auth, img, gated_retoucher):
    slow = gated_retoucher  # runs until released: the queue stays full while we look
    app, state = make_app(retoucher=slow, workers=1, queue_size=0)
    px = img.pixels(4, 4, 3, 8)
    results = {}

    def first():
        results["first"] = post_raw(app.test_client(), auth, px)

    thread = threading.Thread(target=first)
    thread.start()
    assert slow.started.wait(10)
    response = post_raw(app.test_client(), auth, px)
    assert_error(response, 503, "queue_full")
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["error"]["retry_after"] >= 1
    slow.release.set()
    thread.join(60)
    assert results["first"].status_code == 200


def test_job_past_its_timeout_is_stopped_with_504(make_app, auth, img, slow_retoucher):
    slow = slow_retoucher(steps=4000, delay=0.01)  # 40 s unless stopped
    app, _ = make_app(retoucher=slow, job_timeout=0.3)
    response = post_raw(app.test_client(), auth, img.pixels(4, 4, 3, 8))
    assert_error(response, 504, "timeout")
    assert slow.ticks < 2000  # the work really stopped, not just the reply


def test_concurrent_uploads_over_the_budget_are_refused(make_app, auth, img):
    app, state = make_app(upload_budget=1000)
    held = state.uploads.reserve(900)  # another client's upload in progress
    px = img.pixels(10, 10, 3, 8)  # 300 bytes
    response = post_raw(app.test_client(), auth, px)
    assert_error(response, 503, "queue_full")
    assert "Retry-After" in response.headers
    held.release()
    assert post_raw(app.test_client(), auth, px).status_code == 200
    assert state.uploads.used == 0


@pytest.mark.parametrize(
    "name, expected", [("adobe-rgb", "Adobe"), ("display-p3", "P3"), ("prophoto", "ProPhoto")]
)
def test_raw_colour_profile_name_reaches_the_model_as_icc(make_app, auth, img, name, expected):
    from PIL import ImageCms

    class Recording:
        name_ = "rec"
        version = "0"
        seen: list = []

        def retouch(self, image, options=None, progress=None, layers=False):
            self.seen.append(image.icc_profile)
            return models.Result(image)

    recorder = Recording()
    app, _ = make_app(retoucher=recorder)
    px = img.pixels(4, 4, 3, 8)
    response = post_raw(app.test_client(), auth, px, **{"X-Color-Profile": name})
    assert response.status_code == 200
    assert response.headers["X-Color-Profile"] == name
    profile = ImageCms.ImageCmsProfile(io.BytesIO(recorder.seen[-1]))
    assert expected in ImageCms.getProfileDescription(profile)
    post_raw(app.test_client(), auth, px)
    assert recorder.seen[-1] is None  # default: sRGB


def test_metal_variants_come_back_as_variant_parts_even_without_layers(client, auth, img):
    px = img.pixels(5, 6, 4, 8)
    options = {"metal_variants": ["white_gold", "rose_gold"]}
    response = post_raw(client, auth, px, **{"X-Options": json.dumps(options)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    manifest = json.loads(archive.read("manifest.json"))
    assert [(p["name"], p["kind"]) for p in manifest["parts"]] == [
        ("image", "image"), ("white_gold", "variant"), ("rose_gold", "variant")]
    entry = manifest["parts"][1]
    assert entry["file"] == "variants/white_gold.raw"
    assert (entry["width"], entry["height"], entry["channels"], entry["depth"]) == (6, 5, 4, 8)
    variant = np.frombuffer(archive.read("variants/white_gold.raw"), np.uint8).reshape(px.shape)
    np.testing.assert_array_equal(variant[..., :3], 255 - px[..., :3])  # the stand-in's answer
    np.testing.assert_array_equal(variant[..., 3], px[..., 3])


def test_metal_variants_of_an_encoded_input_keep_its_format(client, auth, img):
    px = img.pixels(5, 6, 3, 8)
    response = client.post(
        "/v1/retouch",
        data=img.pil_encode(px, "PNG"),
        headers={**auth, "Content-Type": "image/png",
                 "X-Options": json.dumps({"metal_variants": ["silver"]})},
    )
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert {"manifest.json", "image.png", "variants/silver.png"} <= set(archive.namelist())
    silver = np.asarray(Image.open(io.BytesIO(archive.read("variants/silver.png"))))
    np.testing.assert_array_equal(silver, 255 - px)


def test_bad_metal_variants_are_a_422(client, auth, img):
    px = img.pixels(5, 6, 3, 8)
    for bad in (["gold"], "silver", ["silver", "silver"], [3]):
        response = post_raw(client, auth, px, **{"X-Options": json.dumps({"metal_variants": bad})})
        assert_error(response, 422, "invalid_options")


def test_the_real_models_variants_keep_a_grey_images_layout(make_app, auth, img):
    app, _ = make_app(retoucher=models.load())
    px = img.pixels(24, 32, 1, 16)
    response = post_raw(app.test_client(), auth, px,
                        **{"X-Options": json.dumps({"metal_variants": ["silver"]})})
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    manifest = json.loads(archive.read("manifest.json"))
    silver = next(p for p in manifest["parts"] if p["name"] == "silver")
    assert (silver["channels"], silver["depth"]) == (1, 16)
    assert len(archive.read(silver["file"])) == px.nbytes
