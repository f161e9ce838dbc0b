"""The wire protocol (docs/protocol.md) without any I/O: parse and build messages and layouts.

Used by the HTTP API, the WebSocket server, the tests and any Python client. Nothing here
touches a socket: callers feed text/bytes in and get values (or `ProtocolError`) out.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MAX_TEXT_MESSAGE = 64 * 1024
MAX_CLIENT_FRAME = 16 * 1024 * 1024
MAX_HELLO_BYTES = 4 * 1024  # frames before authentication are limited to a hello's size
SERVER_FRAME = 1024 * 1024
MAX_JSON_DEPTH = 32  # nesting of any JSON we parse (options, messages): the protocol needs 3

ENCODED_FORMATS = ("png", "tiff", "jpeg", "webp")
FORMATS = ("raw", *ENCODED_FORMATS)
COLOR_PROFILES = ("srgb", "adobe-rgb", "display-p3", "prophoto", "linear-srgb")

# Error code -> HTTP status; the WebSocket channel uses the same codes.
ERROR_STATUS: dict[str, int] = {
    "moved": 308,  # only in the body of an HTTP redirect
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_large": 413,
    "unsupported_format": 415,
    "invalid_options": 422,
    "invalid_pixels": 422,
    "queue_full": 503,
    "unavailable": 503,
    "timeout": 504,
    "internal": 500,
}

# WebSocket close codes (4000 + HTTP status, as in docs/protocol.md).
CLOSE_UNAUTHORIZED = 4401
CLOSE_PROTOCOL = 4400


# What a reply must not reveal: object addresses ("at 0x7f..."), and file system paths.
_ADDRESS = re.compile(r"\s*\bat 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}")
_PATH = re.compile(r"(?:[A-Za-z]:[\\/]|\\\\|/)(?:[^\s'\"<>|:]+[\\/])+[^\s'\"<>|:]*")


def public_text(message: str) -> str:
    """`message` without object addresses or file paths, ASCII only (it goes on the wire)."""
    text = _ADDRESS.sub("", message)
    text = _PATH.sub("<path>", text)
    return text.encode("ascii", "replace").decode("ascii")


class ProtocolError(Exception):
    """A request that breaks the protocol; `code` is one of ERROR_STATUS's keys."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        if code not in ERROR_STATUS:
            raise ValueError(f"unknown error code {code}")
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": public_text(self.message)}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return {"error": body}


@dataclass(frozen=True)
class Limits:
    """What one job may be: pixel count, side length, bytes of one upload."""

    max_pixels: int
    max_dimension: int
    max_body_bytes: int

    def to_json(self) -> dict[str, int]:
        return {
            "max_pixels": self.max_pixels,
            "max_dimension": self.max_dimension,
            "max_body_bytes": self.max_body_bytes,
        }

    def check_size(self, width: int, height: int) -> None:
        """Raise `ProtocolError` for zero, absurd or too many pixels."""
        if width < 1 or height < 1:
            raise ProtocolError("invalid_pixels", f"image size {width}x{height} is empty")
        if width > self.max_dimension or height > self.max_dimension:
            raise ProtocolError(
                "too_large",
                f"image side {max(width, height)} px exceeds the limit of {self.max_dimension} px",
            )
        if width * height > self.max_pixels:
            raise ProtocolError(
                "too_large",
                f"image has {width * height} pixels; the limit is {self.max_pixels}",
            )


@dataclass(frozen=True)
class RawLayout:
    """Interleaved raw pixels: size, channels (1..4), depth (8|16, 16 little-endian)."""

    width: int
    height: int
    channels: int
    depth: int
    color_profile: str = "srgb"

    @property
    def byte_count(self) -> int:
        return self.width * self.height * self.channels * self.depth // 8

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "channels": self.channels,
            "depth": self.depth,
            "color_profile": self.color_profile,
        }


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ProtocolError("bad_request", f"'{name}' must be a whole number; got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())):
            if len(text) > 18:
                raise ProtocolError("too_large", f"'{name}' is absurdly large: {text[:24]}")
            return int(text)
    raise ProtocolError("bad_request", f"'{name}' must be a whole number; got {value!r}")


def parse_raw_layout(fields: Mapping[str, Any], limits: Limits) -> RawLayout:
    """Validate width/height/channels/depth/color_profile given as headers, query or JSON."""
    missing = [k for k in ("width", "height", "channels", "depth") if fields.get(k) is None]
    if missing:
        raise ProtocolError(
            "bad_request", f"raw pixels need width, height, channels and depth; missing {missing}"
        )
    width = _as_int("width", fields["width"])
    height = _as_int("height", fields["height"])
    channels = _as_int("channels", fields["channels"])
    depth = _as_int("depth", fields["depth"])
    if channels not in (1, 2, 3, 4):
        raise ProtocolError("invalid_pixels", f"channels must be 1, 2, 3 or 4; got {channels}")
    if depth not in (8, 16):
        raise ProtocolError("invalid_pixels", f"depth must be 8 or 16; got {depth}")
    limits.check_size(width, height)
    profile = fields.get("color_profile") or "srgb"
    if not isinstance(profile, str) or profile.lower() not in COLOR_PROFILES:
        raise ProtocolError(
            "bad_request",
            f"color_profile must be one of {', '.join(COLOR_PROFILES)}; got {profile!r}",
        )
    layout = RawLayout(width, height, channels, depth, profile.lower())
    if layout.byte_count > limits.max_body_bytes:
        raise ProtocolError(
            "too_large",
            f"{layout.byte_count} bytes of pixels exceed the limit of {limits.max_body_bytes}",
        )
    return layout


def check_byte_count(layout: RawLayout, received: int) -> None:
    """Raise unless `received` is exactly width x height x channels x depth/8."""
    if received != layout.byte_count:
        raise ProtocolError(
            "invalid_pixels",
            f"{layout.width}x{layout.height}x{layout.channels} at {layout.depth} bit needs "
            f"exactly {layout.byte_count} bytes; got {received}",
        )


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays/objects in a JSON text (strings skipped), in one pass.

    Run before `json.loads`, whose recursion would otherwise fail on a deeply nested text.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def loads_bounded(text: str | bytes, what: str, code: str = "bad_request") -> Any:
    """`json.loads` with the size and depth bounded first; ProtocolError `code` otherwise."""
    if len(text) > MAX_TEXT_MESSAGE:
        raise ProtocolError(code, f"{what} over {MAX_TEXT_MESSAGE} bytes")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ProtocolError(code, f"{what} nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError(code, f"{what} is not valid JSON") from None


def parse_options_json(text: str | bytes | None) -> dict[str, Any] | None:
    """Options given as a JSON text (header / query / form field); None when absent."""
    if text is None or (isinstance(text, (str, bytes)) and not text.strip()):
        return None
    value = loads_bounded(text, "options", "invalid_options")
    if not isinstance(value, dict):
        raise ProtocolError("invalid_options", "options must be a JSON object")
    return value


def parse_flag(value: Any) -> bool:
    """A boolean flag from a header, query or JSON value ('1', 'true', true...)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ProtocolError("bad_request", f"expected a boolean flag, got {value!r}")


# --------------------------------------------------------------------------------------------
# WebSocket messages
# --------------------------------------------------------------------------------------------

CLIENT_TYPES = ("hello", "job", "cancel")


def encode_message(message: Mapping[str, Any]) -> str:
    """One JSON text frame."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def decode_message(text: str | bytes, expected: tuple[str, ...] = CLIENT_TYPES) -> dict:
    """Parse a text frame into a dict with a known `type` (ProtocolError otherwise)."""
    message = loads_bounded(text, "message")
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("bad_request", "message must be a JSON object with a 'type'")
    if message["type"] not in expected:
        raise ProtocolError("bad_request", f"unexpected message type {message['type']!r}")
    return message


@dataclass(frozen=True)
class JobHeader:
    """A validated `job` message: what will arrive and what to do with it."""

    id: str
    format: str
    bytes: int
    options: dict[str, Any] | None
    layers: bool
    layout: RawLayout | None  # set for format "raw"

    @classmethod
    def parse(cls, message: Mapping[str, Any], limits: Limits) -> JobHeader:
        job_id = message.get("id")
        if not isinstance(job_id, str) or not 0 < len(job_id) <= 200:
            raise ProtocolError("bad_request", "job 'id' must be a non-empty string")
        fmt = message.get("format", "raw")
        if fmt not in FORMATS:
            raise ProtocolError(
                "unsupported_format", f"format must be one of {', '.join(FORMATS)}; got {fmt!r}"
            )
        size = _as_int("bytes", message.get("bytes"))
        if size < 1:
            raise ProtocolError("bad_request", f"'bytes' must be positive; got {size}")
        if size > limits.max_body_bytes:
            raise ProtocolError(
                "too_large", f"{size} bytes exceed the limit of {limits.max_body_bytes}"
            )
        options = message.get("options")
        if options is not None and not isinstance(options, dict):
            raise ProtocolError("invalid_options", "options must be a JSON object")
        layers = parse_flag(message.get("layers", False))
        layout = None
        if fmt == "raw":
            layout = parse_raw_layout(message, limits)
            check_byte_count(layout, size)
        return cls(job_id, fmt, size, options, layers, layout)


@dataclass(frozen=True)
class Part:
    """One piece of a result: the image, a separable layer or a mask.

    For raw results `data` is interleaved pixels; for encoded results it is a file (PNG, or the
    input's format for the image part).
    """

    name: str
    kind: str  # "image" | "layer" | "mask"
    width: int
    height: int
    channels: int
    depth: int
    data: bytes | bytearray | memoryview

    def header(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "channels": self.channels,
            "depth": self.depth,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
        }


def ready_message(version: str, limits: Limits) -> dict[str, Any]:
    return {"type": "ready", "version": version, "limits": limits.to_json()}


def accepted_message(job_id: str, queue_position: int) -> dict[str, Any]:
    return {"type": "accepted", "id": job_id, "queue_position": queue_position}


def progress_message(job_id: str, stage: str, fraction: float) -> dict[str, Any]:
    fraction = 0.0 if not math.isfinite(fraction) else min(max(fraction, 0.0), 1.0)
    return {"type": "progress", "id": job_id, "stage": stage, "fraction": round(fraction, 4)}


def result_message(
    job_id: str, fmt: str, parts: list[Part], warnings: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    image = parts[0]
    return {
        "type": "result",
        "id": job_id,
        "format": fmt,
        "width": image.width,
        "height": image.height,
        "channels": image.channels,
        "depth": image.depth,
        "parts": [p.header() for p in parts],
        "warnings": list(warnings or []),
    }


def done_message(job_id: str, info: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "done", "id": job_id, "info": dict(info)}


def cancelled_message(job_id: str) -> dict[str, Any]:
    return {"type": "cancelled", "id": job_id}


def error_message(job_id: str | None, error: ProtocolError) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "error",
        "id": job_id,
        "code": error.code,
        "message": public_text(error.message),
    }
    if error.retry_after is not None:
        message["retry_after"] = error.retry_after
    return message


def iter_frames(data: bytes | bytearray | memoryview, size: int = SERVER_FRAME) -> Iterator:
    """Slices of `data` of at most `size` bytes (memoryviews: no copies)."""
    view = memoryview(data).cast("B")
    for start in range(0, len(view), size):
        yield view[start : start + size]


class PayloadBuffer:
    """Receives exactly `total` bytes of binary frames into one preallocated buffer.

    Frames are copied straight into place (no list of frames kept), so memory stays at one
    copy of the upload; more bytes than declared is an error.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.buffer = bytearray(total)
        self.received = 0

    @property
    def complete(self) -> bool:
        return self.received == self.total

    def feed(self, frame: bytes | bytearray | memoryview) -> bool:
        """Add one binary frame; returns True once all bytes have arrived."""
        n = len(frame)
        if n > MAX_CLIENT_FRAME:
            raise ProtocolError("bad_request", f"binary frame over {MAX_CLIENT_FRAME} bytes")
        if self.received + n > self.total:
            raise ProtocolError(
                "invalid_pixels",
                f"more data than the {self.total} bytes declared by the job header",
            )
        self.buffer[self.received : self.received + n] = frame
        self.received += n
        return self.complete


class ResultReader:
    """Client-side assembly of a `result` message and the binary frames that follow it."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        self.result = dict(result)
        self.parts = [dict(p) for p in result["parts"]]
        self.data: list[bytearray] = [bytearray(p["bytes"]) for p in self.parts]
        self._index = 0
        self._offset = 0
        self._skip_empty()

    def _skip_empty(self) -> None:
        while self._index < len(self.parts) and self.parts[self._index]["bytes"] == 0:
            self._index += 1

    @property
    def complete(self) -> bool:
        return self._index >= len(self.parts)

    def feed(self, frame: bytes) -> bool:
        """Add one binary frame (never spans parts); True once every part is complete."""
        if self.complete:
            raise ProtocolError("bad_request", "binary frame after the result was complete")
        target = self.data[self._index]
        end = self._offset + len(frame)
        if end > len(target):
            raise ProtocolError("bad_request", "binary frame runs past the end of its part")
        target[self._offset : end] = frame
        self._offset = end
        if end == len(target):
            self._index += 1
            self._offset = 0
            self._skip_empty()
        return self.complete

    def by_name(self) -> dict[str, tuple[dict, bytes]]:
        return {p["name"]: (p, bytes(d)) for p, d in zip(self.parts, self.data, strict=True)}


# --------------------------------------------------------------------------------------------
# The WebSocket job session, sans I/O
# --------------------------------------------------------------------------------------------


class SessionState(enum.Enum):
    """Where one WebSocket connection stands (docs/protocol.md, "WebSocket")."""

    AWAITING_HELLO = "awaiting_hello"  # nothing accepted but a hello of at most MAX_HELLO_BYTES
    IDLE = "idle"  # authenticated, no job
    RECEIVING = "receiving"  # a job was accepted; its bytes are arriving
    RUNNING = "running"  # all bytes arrived; the job is decoded, queued or running
    CLOSED = "closed"


@dataclass(frozen=True)
class StartJob:
    """Command to the shell: decode `buffer` as `header` says and run the job."""

    header: JobHeader
    ticket: Any
    buffer: bytearray


@dataclass(frozen=True)
class CancelJob:
    """Command to the shell: stop the job `job_id` (it reports `job_cancelled` when it has)."""

    job_id: str


@dataclass(frozen=True)
class Close:
    """Command to the shell: send what is queued, then close with this code."""

    code: int
    reason: str


# What a session hands to its shell: a JSON message (dict), a binary frame, or a command.
Output = Any


class SessionPolicy:
    """What a session asks its server: is this token right, may this job come in?

    `admit` returns (ticket, queue_position) or raises ProtocolError (queue full, over the
    upload budget, invalid options); the session gives the ticket back with `release`.
    """

    def authenticate(self, token: str | None) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def admit(self, header: JobHeader) -> tuple[Any, int]:  # pragma: no cover - interface
        raise NotImplementedError

    def release(self, ticket: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class JobSession:
    """One WebSocket connection's protocol: events in (frames, job outcomes), outputs out.

    Nothing here touches a socket, a thread or the job queue: `server.ws` feeds frames in,
    sends the messages and frames that come out, and carries out the commands (`StartJob`,
    `CancelJob`, `Close`). One job at a time per connection.
    """

    def __init__(self, policy: SessionPolicy, limits: Limits, version: str) -> None:
        self.policy = policy
        self.limits = limits
        self.version = version
        self.state = SessionState.AWAITING_HELLO
        self.job_id: str | None = None
        self._header: JobHeader | None = None
        self._ticket: Any = None
        self._payload: PayloadBuffer | None = None
        self._discarding = False  # binary frames of a refused job are dropped silently

    @property
    def max_frame(self) -> int:
        """The largest frame the shell should let in now (a hello's size until authenticated)."""
        if self.state is SessionState.AWAITING_HELLO:
            return MAX_HELLO_BYTES
        return MAX_CLIENT_FRAME

    # -- frames from the client -----------------------------------------------------------

    def receive_text(self, text: str) -> list[Output]:
        if self.state is SessionState.CLOSED:
            return []
        if self.state is SessionState.AWAITING_HELLO:
            return self._hello(text)
        try:
            message = decode_message(text, CLIENT_TYPES)
        except ProtocolError as exc:
            return [error_message(None, exc)]
        self._discarding = False
        kind = message["type"]
        if kind == "hello":
            return [error_message(None, ProtocolError("bad_request", "already authenticated"))]
        if kind == "cancel":
            return self._cancel(message.get("id"))
        return self._job(message)

    def receive_binary(self, frame: bytes | bytearray | memoryview) -> list[Output]:
        if self.state is SessionState.CLOSED:
            return []
        if self.state is SessionState.AWAITING_HELLO:
            error = ProtocolError("bad_request", "the first message must be a JSON hello")
            return self._close_with(error, CLOSE_PROTOCOL)
        if self.state is not SessionState.RECEIVING or self._payload is None:
            if self._discarding:
                return []
            self._discarding = True
            return [
                error_message(
                    None, ProtocolError("bad_request", "binary data without a job header")
                )
            ]
        try:
            complete = self._payload.feed(frame)
        except ProtocolError as exc:
            job_id = self.job_id
            self._reset(discard=True)
            return [error_message(job_id, exc)]
        if not complete:
            return []
        buffer, self._payload = self._payload.buffer, None
        self.state = SessionState.RUNNING
        return [StartJob(self._header, self._ticket, buffer)]  # type: ignore[arg-type]

    def upload_stalled(self, seconds: float) -> list[Output]:
        """The shell saw no frame for `seconds` while receiving: the upload is dropped."""
        if self.state is not SessionState.RECEIVING:
            return []
        job_id = self.job_id
        self._reset(discard=True)
        error = ProtocolError("bad_request", f"no data for {seconds:g} s: upload dropped")
        return [error_message(job_id, error)]

    def hello_timed_out(self) -> list[Output]:
        if self.state is not SessionState.AWAITING_HELLO:
            return []
        self.state = SessionState.CLOSED
        return [Close(CLOSE_PROTOCOL, "no hello")]

    def disconnected(self) -> list[Output]:
        """The connection is gone: cancel the job, give everything back."""
        outputs: list[Output] = []
        if self.state is SessionState.RUNNING and self.job_id is not None:
            outputs.append(CancelJob(self.job_id))
        self._reset()
        self.state = SessionState.CLOSED
        return outputs

    # -- what the shell reports about the running job -------------------------------------

    def job_progress(self, job_id: str, stage: str, fraction: float) -> list[Output]:
        if not self._is_running(job_id):
            return []
        return [progress_message(job_id, stage, fraction)]

    def job_succeeded(
        self,
        job_id: str,
        fmt: str,
        parts: list[Part],
        info: Mapping[str, Any],
        warnings: list[dict[str, str]],
    ) -> list[Output]:
        if not self._is_running(job_id):
            return []
        outputs: list[Output] = [result_message(job_id, fmt, parts, warnings)]
        for part in parts:
            outputs.extend(iter_frames(part.data))
        outputs.append(done_message(job_id, info))
        self._reset()
        return outputs

    def job_failed(self, job_id: str, error: ProtocolError) -> list[Output]:
        if not self._is_running(job_id):
            return []
        self._reset()
        return [error_message(job_id, error)]

    def job_cancelled(self, job_id: str) -> list[Output]:
        if not self._is_running(job_id):
            return []
        self._reset()
        return [cancelled_message(job_id)]

    # -- inside ----------------------------------------------------------------------------

    def _is_running(self, job_id: str) -> bool:
        return self.state is SessionState.RUNNING and self.job_id == job_id

    def _hello(self, text: str) -> list[Output]:
        try:
            if len(text) > MAX_HELLO_BYTES:
                raise ProtocolError("bad_request", f"hello over {MAX_HELLO_BYTES} bytes")
            hello = decode_message(text, ("hello",))
        except ProtocolError as exc:
            return self._close_with(exc, CLOSE_PROTOCOL)
        token = hello.get("token")
        if not self.policy.authenticate(token if isinstance(token, str) else None):
            error = ProtocolError("unauthorized", "wrong or missing access token")
            return self._close_with(error, CLOSE_UNAUTHORIZED)
        self.state = SessionState.IDLE
        return [ready_message(self.version, self.limits)]

    def _close_with(self, error: ProtocolError, code: int) -> list[Output]:
        self.state = SessionState.CLOSED
        return [error_message(None, error), Close(code, error.code)]

    def _cancel(self, job_id: Any) -> list[Output]:
        if job_id is None or job_id != self.job_id:
            return []  # nothing to cancel (already finished, or never started): not an error
        if self.state is SessionState.RECEIVING:
            self._reset(discard=True)
            return [cancelled_message(job_id)]
        return [CancelJob(job_id)]  # the shell reports job_cancelled once it has stopped

    def _job(self, message: dict) -> list[Output]:
        job_id = message.get("id") if isinstance(message.get("id"), str) else None
        if self.state is not SessionState.IDLE:
            self._discarding = True
            error = ProtocolError(
                "bad_request", f"job {self.job_id!r} is still running; one job at a time"
            )
            return [error_message(job_id, error)]
        try:
            header = JobHeader.parse(message, self.limits)
            ticket, position = self.policy.admit(header)
            try:
                payload = PayloadBuffer(header.bytes)
            except BaseException:
                self.policy.release(ticket)
                raise
        except ProtocolError as exc:
            self._discarding = True
            return [error_message(job_id, exc)]
        except MemoryError:
            self._discarding = True
            return [error_message(job_id, ProtocolError("too_large", "not enough memory"))]
        self._header, self._ticket, self._payload = header, ticket, payload
        self.job_id = header.id
        self.state = SessionState.RECEIVING
        return [accepted_message(header.id, position)]

    def _reset(self, discard: bool = False) -> None:
        """Back to IDLE, the upload's buffer and ticket given back."""
        if self._ticket is not None:
            ticket, self._ticket = self._ticket, None
            self.policy.release(ticket)
        self._header = self._payload = None
        self.job_id = None
        self._discarding = discard
        if self.state is not SessionState.CLOSED:
            self.state = SessionState.IDLE
