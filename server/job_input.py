"""What the HTTP API and the WebSocket channel both do with a job: options from JSON, raw bytes
to an image, the size check, and the run's info and warnings made safe for the wire."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from models.api import ImageData, OptionsError, RetouchOptions
from server.engine import profile_for_name
from server.protocol import ProtocolError, RawLayout, check_byte_count, public_text

MAX_WARNINGS = 32


def parse_options(values: Mapping[str, Any] | None) -> RetouchOptions:
    """Validated options; an invalid one is ProtocolError `invalid_options` (HTTP 422)."""
    try:
        return RetouchOptions.from_mapping(values)
    except OptionsError as exc:
        raise ProtocolError("invalid_options", str(exc)) from None


def raw_image(buffer: bytes | bytearray | memoryview, layout: RawLayout) -> ImageData:
    """Interleaved raw pixels (16 bit little-endian) as ImageData, without a copy."""
    check_byte_count(layout, len(buffer))
    dtype = np.uint8 if layout.depth == 8 else np.dtype("<u2")
    pixels = np.frombuffer(buffer, dtype).reshape(layout.height, layout.width, layout.channels)
    return ImageData(pixels, profile_for_name(layout.color_profile))


def json_safe(value: Any) -> Any:
    """`value` as JSON can carry it: NaN/inf become null, unknown objects their str()."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return json_safe(value.item())
    return public_text(str(value))


def run_info(info: Mapping[str, Any] | None) -> dict[str, Any]:
    """A run's info as a JSON object (always an object, always serialisable)."""
    safe = json_safe(dict(info or {}))
    json.dumps(safe, allow_nan=False)  # guaranteed by json_safe; fails loudly if not
    return safe


def run_warnings(info: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The run's warnings as [{"code", "message"}], ASCII (they travel in a header too)."""
    found = (info or {}).get("warnings") or []
    warnings: list[dict[str, str]] = []
    for item in list(found)[:MAX_WARNINGS]:
        if isinstance(item, Mapping) and "code" in item:
            code, message = str(item["code"]), str(item.get("message", ""))
        else:
            code, message = str(item), ""
        warnings.append({"code": public_text(code), "message": public_text(message)})
    return warnings


def warnings_header(info: Mapping[str, Any] | None) -> str:
    """The `X-Retouch-Warnings` header value: a compact JSON array, `[]` when none."""
    return json.dumps(run_warnings(info), separators=(",", ":"), ensure_ascii=True)
