"""The `/v1` HTTP API blueprint: health, info, OpenAPI document and retouch."""

from __future__ import annotations

import io
import json
import select
import socket
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected

import models
from models.api import ImageData, OptionsError, RetouchOptions
from server import __version__
from server.engine import profile_for_name, result_parts
from server.imageio import FORMAT_BY_MIME, MIME_TYPES, FileInfo, read_image
from server.jobs import Job
from server.protocol import (
    ENCODED_FORMATS,
    Part,
    ProtocolError,
    RawLayout,
    check_byte_count,
    iter_frames,
    parse_flag,
    parse_options_json,
    parse_raw_layout,
)

bp = Blueprint("api", __name__, url_prefix="/v1")

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
READ_CHUNK = 4 << 20


def _state():
    return current_app.extensions["jewel_retouch"]


@bp.get("/health")
def health():
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/info")
def info():
    state = _state()
    return jsonify(
        {
            "version": __version__,
            "model": state.engine.model_info,
            "options": models.options_schema(),
            "limits": state.limits.to_json(),
            "formats": {
                "input": ["raw", *ENCODED_FORMATS],
                "output": ["raw", *ENCODED_FORMATS],
                "depths": [8, 16],
                "channels": [1, 2, 3, 4],
            },
            "layers": list(models.LAYER_NAMES),
            "masks": list(models.MASK_NAMES),
            "websocket": {"url": state.config.ws_url()},
            "queue": state.queue.stats(),
        }
    )


def openapi_document() -> dict[str, Any]:
    """The repo's OpenAPI document with RetouchOptions filled in from the model's options."""
    doc = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    properties = {}
    for spec in models.OPTION_SPECS:
        prop: dict[str, Any] = {"default": spec.default, "description": spec.description}
        if spec.type == "enum":
            prop.update(type="string", enum=list(spec.choices or ()))
        elif spec.type == "boolean":
            prop["type"] = "boolean"
        else:
            prop["type"] = "integer" if spec.type == "integer" else "number"
            if spec.minimum is not None:
                prop["minimum"] = spec.minimum
            if spec.maximum is not None:
                prop["maximum"] = spec.maximum
        properties[spec.name] = prop
    doc["components"]["schemas"]["RetouchOptions"]["properties"] = properties
    return doc


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


# --------------------------------------------------------------------------------------------
# POST /v1/retouch
# --------------------------------------------------------------------------------------------


def _read_body(limit: int) -> bytearray:
    """The request body in one preallocated buffer (no list of chunks, no extra copy)."""
    length = request.content_length
    if length is None:
        data = request.get_data(cache=False)
        if len(data) > limit:
            raise ProtocolError("too_large", f"body over the limit of {limit} bytes")
        return bytearray(data)
    if length > limit:
        raise ProtocolError("too_large", f"body of {length} bytes over the limit of {limit}")
    buffer = bytearray(length)
    view = memoryview(buffer)
    stream = request.stream
    readinto = getattr(stream, "readinto", None)
    received = 0
    try:
        while received < length:
            end = min(received + READ_CHUNK, length)
            if readinto is not None:
                count = readinto(view[received:end])  # straight into place, no chunk copies
            else:
                chunk = stream.read(end - received)
                count = len(chunk)
                view[received : received + count] = chunk
            if not count:
                break
            received += count
    except (OSError, ClientDisconnected):  # timeout, reset or early end of the upload
        raise ProtocolError("bad_request", "the upload stalled or the client went away") from None
    if received != length:
        raise ProtocolError(
            "bad_request", f"body ended after {received} of {length} bytes (truncated upload)"
        )
    return buffer


def _layout_fields() -> dict[str, Any]:
    headers, args = request.headers, request.args
    return {
        name: headers.get(f"X-{name.replace('_', '-').title()}", args.get(name))
        for name in ("width", "height", "channels", "depth", "color_profile")
    }


def _options_and_layers(form: Any = None) -> tuple[RetouchOptions, bool]:
    text = request.headers.get("X-Options")
    if text is None:
        text = request.args.get("options")
    if text is None and form is not None:
        text = form.get("options")
    raw_options = parse_options_json(text)
    flag = request.headers.get("X-Layers", request.args.get("layers"))
    if flag is None and form is not None:
        flag = form.get("layers")
    layers = parse_flag(flag)
    try:
        return RetouchOptions.from_mapping(raw_options), layers
    except OptionsError as exc:
        raise ProtocolError("invalid_options", str(exc)) from None


@bp.post("/retouch")
def retouch():
    state = _state()
    # Reserve the upload's size before reading it (memory stays bounded with many clients).
    with state.uploads.reserve(request.content_length or 0, state.queue.retry_after()):
        return _retouch(state)


def _retouch(state):
    limits = state.limits
    mimetype = (request.mimetype or "").lower()
    info: FileInfo | None = None
    layout: RawLayout | None = None
    if mimetype == "application/octet-stream":
        options, layers = _options_and_layers()
        layout = parse_raw_layout(_layout_fields(), limits)
        if request.content_length is not None:
            check_byte_count(layout, request.content_length)
        body = _read_body(limits.max_body_bytes)
        check_byte_count(layout, len(body))
        dtype = np.uint8 if layout.depth == 8 else np.dtype("<u2")
        pixels = np.frombuffer(body, dtype).reshape(layout.height, layout.width, layout.channels)
        image = ImageData(pixels, profile_for_name(layout.color_profile))
        fmt = "raw"
    elif mimetype in FORMAT_BY_MIME:
        options, layers = _options_and_layers()
        body = _read_body(limits.max_body_bytes)
        image, info = read_image(body, limits, expected_format=FORMAT_BY_MIME[mimetype])
        del body
        fmt = info.format
    elif mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise ProtocolError("bad_request", "the form needs a file field named 'image'")
        options, layers = _options_and_layers(request.form)
        image, info = read_image(upload.stream.read(), limits)
        fmt = info.format
    else:
        raise ProtocolError(
            "unsupported_format",
            f"unsupported Content-Type {mimetype or '(none)'}: send image/png, image/tiff, "
            "image/jpeg, image/webp, application/octet-stream or multipart/form-data",
        )
    job = Job(image, options, layers=layers, label="http")
    del image
    state.queue.submit(job)
    if not _wait_while_connected(job, state.config.job_timeout + 30):
        state.queue.cancel(job)
        if _client_gone():
            raise ProtocolError("bad_request", "the client went away; its job was cancelled")
        raise ProtocolError("timeout", "the job ran past its time limit")
    if job.error is not None:
        raise job.error
    if job.cancelled or job.result is None:
        raise ProtocolError("unavailable", "the job was cancelled", retry_after=5)
    parts = result_parts(job.result, fmt, info)
    run_info = job.result.info
    job.result = None
    if layers:
        return _zip_response(parts, fmt, run_info)
    return _single_response(parts[0], fmt, layout)


def _client_gone() -> bool:
    """True when the client closed its connection (the body is read, so readable means EOF)."""
    disconnected = request.environ.get("waitress.client_disconnected")
    if disconnected is not None:
        return bool(disconnected())
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _wait_while_connected(job: Job, timeout: float) -> bool:
    """Wait for `job`; False on timeout or when the client hung up (then nobody wants it)."""
    deadline = time.monotonic() + timeout
    while not job.wait(0.25):
        if time.monotonic() > deadline or _client_gone():
            return False
    return True


def _single_response(part: Part, fmt: str, layout: RawLayout | None) -> Response:
    headers = {"Content-Length": str(len(part.data))}
    if fmt == "raw":
        headers.update(
            {
                "X-Width": str(part.width),
                "X-Height": str(part.height),
                "X-Channels": str(part.channels),
                "X-Depth": str(part.depth),
            }
        )
        if layout is not None:
            headers["X-Color-Profile"] = layout.color_profile
        mimetype = "application/octet-stream"
    else:
        mimetype = MIME_TYPES[fmt]
    # WSGI wants bytes: copy 4 MiB at a time rather than the whole answer at once.
    chunks = (bytes(frame) for frame in iter_frames(part.data, 4 << 20))
    response = Response(chunks, mimetype=mimetype, headers=headers)
    response.direct_passthrough = True
    return response


def part_file_name(part: Part, fmt: str) -> str:
    """Where a part lives in the layers archive (see docs/protocol.md)."""
    folder = {"image": "", "layer": "layers/", "mask": "masks/"}[part.kind]
    if fmt == "raw":
        ext = "raw"
    elif part.kind == "image":
        ext = {"png": "png", "tiff": "tif", "jpeg": "jpg", "webp": "webp"}[fmt]
    else:
        ext = "png"
    return f"{folder}{part.name}.{ext}"


def _zip_response(parts: list[Part], fmt: str, run_info: dict) -> Response:
    image = parts[0]
    manifest = {
        "width": image.width,
        "height": image.height,
        "channels": image.channels,
        "depth": image.depth,
        "format": fmt,
        "parts": [
            {
                "name": p.name,
                "kind": p.kind,
                "file": part_file_name(p, fmt),
                "width": p.width,
                "height": p.height,
                "channels": p.channels,
                "depth": p.depth,
            }
            for p in parts
        ],
        "info": _json_safe(run_info),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
        for part, entry in zip(parts, manifest["parts"], strict=True):
            archive.writestr(entry["file"], bytes(part.data))
    return Response(out.getvalue(), mimetype="application/zip")


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str, allow_nan=True).replace("NaN", "null"))
