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

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import ClientDisconnected

import models
from models.api import RetouchOptions
from server import __version__
from server.engine import result_parts
from server.imageio import FORMAT_BY_MIME, MIME_TYPES, FileInfo, read_image
from server.job_input import parse_options, raw_image, run_info, run_warnings, warnings_header
from server.jobs import Job, Reservation
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
from server.sizing import check_job_size

bp = Blueprint("api", __name__, url_prefix="/v1")

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
READ_CHUNK = 4 << 20
RUN_GRACE = 30.0  # seconds past the job timeout for the model to notice it was stopped


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
        default = list(spec.default) if spec.type == "list" else spec.default
        prop: dict[str, Any] = {"default": default, "description": spec.description}
        if spec.type == "enum":
            prop.update(type="string", enum=list(spec.choices or ()))
        elif spec.type == "list":
            prop.update(type="array", uniqueItems=True,
                        items={"type": "string", "enum": list(spec.choices or ())})
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


def _read_body(limit: int, reservation: Reservation) -> bytearray:
    """The request body, read once into one buffer, its bytes reserved from the upload budget
    before they are held (a chunked body, whose size nobody declared, reserves as it arrives)."""
    length = request.content_length
    if length is None:
        return _read_unsized_body(limit, reservation)
    if length > limit:
        raise ProtocolError("too_large", f"body of {length} bytes over the limit of {limit}")
    reservation.grow(length)
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


def _read_unsized_body(limit: int, reservation: Reservation) -> bytearray:
    buffer = bytearray()
    stream = request.stream
    try:
        while chunk := stream.read(READ_CHUNK):
            if len(buffer) + len(chunk) > limit:
                raise ProtocolError("too_large", f"body over the limit of {limit} bytes")
            reservation.grow(len(chunk))
            buffer += chunk
    except (OSError, ClientDisconnected):
        raise ProtocolError("bad_request", "the upload stalled or the client went away") from None
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
    options = parse_options(parse_options_json(text))
    flag = request.headers.get("X-Layers", request.args.get("layers"))
    if flag is None and form is not None:
        flag = form.get("layers")
    return options, parse_flag(flag)


@bp.post("/retouch")
def retouch():
    state = _state()
    # The upload's bytes are reserved as they are read (memory stays bounded with many clients).
    with state.uploads.reserve(0, state.queue.retry_after()) as reservation:
        return _retouch(state, reservation)


def _retouch(state, reservation: Reservation):
    limits = state.limits
    mimetype = (request.mimetype or "").lower()
    info: FileInfo | None = None
    layout: RawLayout | None = None
    if mimetype == "application/octet-stream":
        options, layers = _options_and_layers()
        layout = parse_raw_layout(_layout_fields(), limits)
        check_job_size(limits, layout.width, layout.height, options, layers)
        if request.content_length is not None:
            check_byte_count(layout, request.content_length)
        image = raw_image(_read_body(limits.max_body_bytes, reservation), layout)
        fmt = "raw"
    elif mimetype in FORMAT_BY_MIME:
        options, layers = _options_and_layers()
        body = _read_body(limits.max_body_bytes, reservation)
        image, info = read_image(body, limits, expected_format=FORMAT_BY_MIME[mimetype])
        del body
        fmt = info.format
    elif mimetype == "multipart/form-data":
        reservation.grow(request.content_length or 0)
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
    check_job_size(limits, image.width, image.height, options, layers)
    job = Job(image, options, layers=layers, label="http")
    del image
    state.queue.submit(job)
    _await(job, state)
    if job.error is not None:
        raise job.error
    if job.cancelled or job.result is None:
        raise ProtocolError("unavailable", "the job was cancelled", retry_after=5)
    parts = result_parts(job.result, fmt, info)
    info_of_run = job.result.info
    job.result = None
    if layers or len(parts) > 1:  # layers, or metal variants: the archive
        response = _zip_response(parts, fmt, info_of_run)
    else:
        response = _single_response(parts[0], fmt, layout)
    response.headers["X-Retouch-Warnings"] = warnings_header(info_of_run)
    return response


def _await(job: Job, state) -> None:
    """Wait for `job`: it may wait `queue_timeout` s to start, then run `job_timeout` s (plus
    a grace for the model to notice); a client that hangs up cancels it."""
    config = state.config
    while not job.wait(0.25):
        now = time.monotonic()
        if _client_gone():
            state.queue.cancel(job)
            raise ProtocolError("bad_request", "the client went away; its job was cancelled")
        started = job.started_at
        if started is None and now - job.queued_at > config.queue_timeout:
            state.queue.cancel(job)
            if job.started_at is None:
                raise ProtocolError(
                    "queue_full",
                    f"the job waited {config.queue_timeout:g} s in the queue without starting: "
                    "the server is busy",
                    retry_after=state.queue.retry_after(),
                )
        elif started is not None and now - started > config.job_timeout + RUN_GRACE:
            state.queue.cancel(job)
            raise ProtocolError(
                "timeout", f"the job ran past its time limit of {config.job_timeout:g} s"
            )


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
    folder = {"image": "", "layer": "layers/", "mask": "masks/", "variant": "variants/"}[part.kind]
    if fmt == "raw":
        ext = "raw"
    elif part.kind in ("image", "variant"):
        ext = {"png": "png", "tiff": "tif", "jpeg": "jpg", "webp": "webp"}[fmt]
    else:
        ext = "png"
    return f"{folder}{part.name}.{ext}"


def _zip_response(parts: list[Part], fmt: str, info_of_run: dict) -> Response:
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
        "info": run_info(info_of_run),
        "warnings": run_warnings(info_of_run),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
        for part, entry in zip(parts, manifest["parts"], strict=True):
            archive.writestr(entry["file"], bytes(part.data))
    return Response(out.getvalue(), mimetype="application/zip")
