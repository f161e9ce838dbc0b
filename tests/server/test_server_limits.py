"""Limits that hold for every job: output size (framing), the upload budget with chunked
bodies, nested JSON, the queue wait bound, and the warnings header (in-process app)."""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest

from models.api import Result, RetouchOptions
from server.protocol import Limits, ProtocolError, json_depth, loads_bounded
from server.sizing import check_job_size, planned_output
from tests.server.conftest import IdentityRetoucher


def _png(img, side: int = 100) -> bytes:
    return img.pil_encode(img.pixels(side, side, 3, 8), "PNG")


# --- defect 1: the framing canvas is checked before any work -------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"framing": "square", "canvas_size": 10000},
        {"framing": "amazon"},  # 2000 x 2000 = 4 MP
        {"framing": "square", "margin": 0.45},  # up to 10 x the photo's side
    ],
)
def test_framing_canvas_over_the_pixel_limit_is_refused_before_work(make_app, auth, img, options):
    model = IdentityRetoucher()
    side = 320 if "margin" in options else 100
    app, _ = make_app(model, max_pixels=1_000_000)
    headers = {**auth, "Content-Type": "image/png", "X-Options": json.dumps(options)}
    response = app.test_client().post("/v1/retouch", data=_png(img, side), headers=headers)
    assert response.status_code == 413, response.data
    error = response.get_json()["error"]
    assert error["code"] == "too_large" and "framing" in error["message"]
    assert model.calls == []  # the model never ran


def test_framing_canvas_checked_for_raw_uploads_too(make_app, auth, img):
    model = IdentityRetoucher()
    app, _ = make_app(model, max_pixels=1_000_000)
    headers = {
        **auth,
        **img.raw_headers(10, 10, 3, 8),
        "X-Options": json.dumps({"framing": "square", "canvas_size": 5000}),
        "X-Layers": "1",
    }
    response = app.test_client().post("/v1/retouch", data=b"\0" * 300, headers=headers)
    assert response.status_code == 413
    assert "layers" in response.get_json()["error"]["message"]
    assert model.calls == []


def test_framing_within_the_limits_runs(make_app, auth, img):
    app, _ = make_app(IdentityRetoucher(), max_pixels=5_000_000)
    headers = {**auth, "Content-Type": "image/png", "X-Options": '{"framing": "amazon"}'}
    response = app.test_client().post("/v1/retouch", data=_png(img), headers=headers)
    assert response.status_code == 200, response.data


def test_planned_output_sizes():
    assert planned_output(300, 200, RetouchOptions()).pixels == 60_000
    assert planned_output(300, 200, RetouchOptions(framing="ebay")).width == 1600
    square = planned_output(850, 100, RetouchOptions(framing="square", margin=0.075))
    assert square.width == 1000  # 850 / 0.85
    assert planned_output(10, 10, RetouchOptions(framing="etsy", canvas_size=64)).width == 64
    limits = Limits(1_000_000, 65535, 1 << 30)
    with pytest.raises(ProtocolError) as caught:
        check_job_size(limits, 10, 10, RetouchOptions(framing="square", canvas_size=1001))
    assert caught.value.code == "too_large"
    check_job_size(limits, 10, 10, RetouchOptions(framing="square", canvas_size=1000))


# --- defect 2: chunked bodies reserve from the upload budget as they arrive ----------------


def _chunked_post(app, auth, img, data: bytes):
    headers = {**auth, **img.raw_headers(40, 25, 4, 8), "Transfer-Encoding": "chunked"}
    return app.test_client().post(
        "/v1/retouch",
        input_stream=io.BytesIO(data),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},  # what a server sets for chunked
    )


def test_chunked_upload_counts_against_the_upload_budget(make_app, auth, img):
    app, state = make_app(IdentityRetoucher(), upload_budget=5000)
    body = img.pixels(25, 40, 4, 8).tobytes()  # 4000 bytes, no Content-Length
    other_upload = state.uploads.reserve(3000)  # another client's image is arriving
    response = _chunked_post(app, auth, img, body)
    assert response.status_code == 503, response.data
    assert response.get_json()["error"]["code"] == "queue_full"
    other_upload.release()
    assert state.uploads.used == 0
    response = _chunked_post(app, auth, img, body)
    assert response.status_code == 200 and response.data == body
    assert state.uploads.used == 0


def test_chunked_upload_over_the_body_limit_is_refused(make_app, auth, img):
    app, _ = make_app(IdentityRetoucher(), max_body_bytes=3000)
    response = _chunked_post(app, auth, img, b"\0" * 4000)
    assert response.status_code == 413


# --- defect 7: nesting is bounded before parsing -----------------------------------------


def test_deeply_nested_options_get_a_json_422(make_app, auth, img):
    app, _ = make_app(IdentityRetoucher())
    deep = "[" * 5000 + "]" * 5000
    for nested in (deep, '{"a":' * 5000 + "1" + "}" * 5000):
        headers = {**auth, "Content-Type": "image/png", "X-Options": nested}
        response = app.test_client().post("/v1/retouch", data=_png(img), headers=headers)
        assert response.status_code == 422, response.data
        assert "nested" in response.get_json()["error"]["message"]


def test_json_depth_skips_strings():
    assert json_depth('{"a": "[[[[[[", "b": [1, {"c": "\\"]]"}]}') == 3
    assert json_depth("[" * 40 + "]" * 40) == 40
    with pytest.raises(ProtocolError):
        loads_bounded("[" * 33 + "]" * 33, "message")
    assert json_depth(json.dumps(loads_bounded("[" * 32 + "]" * 32, "message"))) == 32


# --- defect 6: waiting in the queue has its own bound -------------------------------------


def _post_in_thread(app, auth, img, results: list) -> threading.Thread:
    body = img.pixels(4, 4, 3, 8).tobytes()

    def post() -> None:
        response = app.test_client().post(
            "/v1/retouch", data=body, headers={**auth, **img.raw_headers(4, 4, 3, 8)}
        )
        results.append((response.status_code, response.get_json(silent=True)))

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_a_job_waiting_past_the_queue_timeout_is_refused_as_busy(
    make_app, auth, img, slow_retoucher
):
    model = slow_retoucher(steps=100, delay=0.05)  # about 5 s
    app, _ = make_app(model, queue_timeout=0.5, job_timeout=600, queue_size=2)
    first: list = []
    thread = _post_in_thread(app, auth, img, first)
    assert model.started.wait(30)
    second: list = []
    _post_in_thread(app, auth, img, second).join(60)
    status, body = second[0]
    assert status == 503 and body["error"]["code"] == "queue_full"
    assert "waited" in body["error"]["message"] and "retry_after" in body["error"]
    thread.join(60)
    assert first[0][0] == 200


def test_the_job_timeout_counts_running_time_only(make_app, auth, img, slow_retoucher):
    model = slow_retoucher(steps=20, delay=0.05)  # about 1 s each
    # The third job waits about 2 s and runs about 1 s: over 2.5 s in all, under it running.
    app, _ = make_app(model, job_timeout=2.5, queue_timeout=60, queue_size=3)
    results: list = []
    threads = [_post_in_thread(app, auth, img, results)]
    assert model.started.wait(30)
    threads += [_post_in_thread(app, auth, img, results) for _ in range(2)]
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in results] == [200, 200, 200], results


# --- warnings -------------------------------------------------------------------------------


class WarningRetoucher(IdentityRetoucher):
    """Identity that reports one warning, as the real model does for a non-studio photo."""

    def retouch(self, image, options=None, progress=None, layers=False):
        from models.api import warning

        out = super().retouch(image, options, progress, layers)
        return Result(out.image, out.layers, out.masks, {"warnings": [warning("background_kept")]})


def test_warnings_header_is_always_present(make_app, auth, img):
    body = img.pixels(4, 4, 3, 8).tobytes()
    headers = {**auth, **img.raw_headers(4, 4, 3, 8)}
    app, _ = make_app(IdentityRetoucher())
    response = app.test_client().post("/v1/retouch", data=body, headers=headers)
    assert response.headers["X-Retouch-Warnings"] == "[]"
    app, _ = make_app(WarningRetoucher())
    response = app.test_client().post("/v1/retouch", data=body, headers=headers)
    warnings = json.loads(response.headers["X-Retouch-Warnings"])
    assert [w["code"] for w in warnings] == ["background_kept"]
    assert response.headers["X-Retouch-Warnings"].isascii() and warnings[0]["message"]


def test_warnings_in_the_layers_manifest_and_exposed_to_cors(make_app, auth, img):
    import zipfile

    app, _ = make_app(WarningRetoucher(), cors=True, allowed_origins=("https://shop.example",))
    headers = {**auth, **img.raw_headers(4, 4, 3, 8), "X-Layers": "1"}
    headers["Origin"] = "https://shop.example"
    response = app.test_client().post(
        "/v1/retouch", data=img.pixels(4, 4, 3, 8).tobytes(), headers=headers
    )
    assert response.status_code == 200
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(response.data)).read("manifest.json"))
    assert [w["code"] for w in manifest["warnings"]] == ["background_kept"]
    assert manifest["info"]["warnings"] == manifest["warnings"]
    assert "X-Retouch-Warnings" in response.headers["Access-Control-Expose-Headers"]


def test_run_info_is_made_json_safe():
    from server.job_input import run_info

    info = run_info({"a": float("nan"), "b": np.float32(1.5), "c": object(), "d": (1, 2)})
    assert info["a"] is None and info["b"] == 1.5 and info["d"] == [1, 2]
    assert "0x" not in info["c"]
