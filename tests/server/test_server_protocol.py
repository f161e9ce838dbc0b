"""The sans-I/O protocol core: layouts, job headers, payload and result assembly."""

from __future__ import annotations

import json

import pytest

from server.protocol import (
    MAX_TEXT_MESSAGE,
    JobHeader,
    Limits,
    Part,
    PayloadBuffer,
    ProtocolError,
    ResultReader,
    decode_message,
    error_message,
    iter_frames,
    parse_options_json,
    parse_raw_layout,
    progress_message,
    result_message,
)

LIMITS = Limits(max_pixels=1_000_000, max_dimension=5000, max_body_bytes=10_000_000)


def test_raw_layout_from_strings_and_byte_count():
    layout = parse_raw_layout(
        {"width": "640", "height": "480", "channels": "4", "depth": "16"}, LIMITS
    )
    assert (layout.width, layout.height, layout.channels, layout.depth) == (640, 480, 4, 16)
    assert layout.byte_count == 640 * 480 * 4 * 2
    assert layout.color_profile == "srgb"


@pytest.mark.parametrize(
    "fields, code",
    [
        ({"width": 0, "height": 10, "channels": 3, "depth": 8}, "invalid_pixels"),
        ({"width": -5, "height": 10, "channels": 3, "depth": 8}, "invalid_pixels"),
        ({"width": 10, "height": 10, "channels": 5, "depth": 8}, "invalid_pixels"),
        ({"width": 10, "height": 10, "channels": 3, "depth": 12}, "invalid_pixels"),
        ({"width": 6000, "height": 1, "channels": 3, "depth": 8}, "too_large"),
        ({"width": 2000, "height": 2000, "channels": 3, "depth": 8}, "too_large"),
        ({"width": "9" * 40, "height": 1, "channels": 3, "depth": 8}, "too_large"),
        ({"width": "ten", "height": 10, "channels": 3, "depth": 8}, "bad_request"),
        ({"width": 1.5, "height": 10, "channels": 3, "depth": 8}, "bad_request"),
        ({"width": True, "height": 10, "channels": 3, "depth": 8}, "bad_request"),
        ({"height": 10, "channels": 3, "depth": 8}, "bad_request"),
        (
            {"width": 1, "height": 1, "channels": 3, "depth": 8, "color_profile": "cmyk"},
            "bad_request",
        ),
    ],
)
def test_bad_raw_layouts_are_refused_with_the_right_code(fields, code):
    with pytest.raises(ProtocolError) as info:
        parse_raw_layout(fields, LIMITS)
    assert info.value.code == code


def test_job_header_checks_the_declared_byte_count():
    message = {
        "type": "job",
        "id": "j",
        "format": "raw",
        "width": 4,
        "height": 3,
        "channels": 3,
        "depth": 8,
        "bytes": 36,
    }
    header = JobHeader.parse(message, LIMITS)
    assert header.layout.byte_count == 36 and header.layers is False
    with pytest.raises(ProtocolError) as info:
        JobHeader.parse({**message, "bytes": 35}, LIMITS)
    assert info.value.code == "invalid_pixels"
    with pytest.raises(ProtocolError) as info:
        JobHeader.parse({**message, "format": "gif"}, LIMITS)
    assert info.value.code == "unsupported_format"
    with pytest.raises(ProtocolError) as info:
        JobHeader.parse({**message, "options": [1, 2]}, LIMITS)
    assert info.value.code == "invalid_options"
    with pytest.raises(ProtocolError):
        JobHeader.parse({**message, "id": ""}, LIMITS)
    encoded = JobHeader.parse({"type": "job", "id": "e", "format": "png", "bytes": 100}, LIMITS)
    assert encoded.layout is None and encoded.bytes == 100
    with pytest.raises(ProtocolError) as info:
        JobHeader.parse({"type": "job", "id": "e", "format": "png", "bytes": 10**12}, LIMITS)
    assert info.value.code == "too_large"


def test_decode_message_rejects_non_json_unknown_types_and_oversize():
    assert decode_message('{"type": "cancel", "id": "x"}')["id"] == "x"
    for text in ("not json", "[1]", '{"no": "type"}', '{"type": "launch"}'):
        with pytest.raises(ProtocolError):
            decode_message(text)
    big = json.dumps({"type": "cancel", "id": "x" * (MAX_TEXT_MESSAGE + 1)})
    with pytest.raises(ProtocolError):
        decode_message(big)


def test_options_json_parsing():
    assert parse_options_json(None) is None
    assert parse_options_json("  ") is None
    assert parse_options_json('{"strength": 0.5}') == {"strength": 0.5}
    for text in ("{bad", "[1, 2]", '"white"'):
        with pytest.raises(ProtocolError) as info:
            parse_options_json(text)
        assert info.value.code == "invalid_options"


def test_payload_buffer_fills_in_place_and_refuses_extra_bytes():
    payload = PayloadBuffer(10)
    assert payload.feed(b"abcd") is False
    assert payload.feed(memoryview(b"efghij")) is True
    assert bytes(payload.buffer) == b"abcdefghij"
    payload = PayloadBuffer(4)
    with pytest.raises(ProtocolError) as info:
        payload.feed(b"12345")
    assert info.value.code == "invalid_pixels"


def test_result_reader_reassembles_parts_split_across_frames():
    image = Part("image", "image", 3, 2, 4, 8, bytes(range(24)))
    mask = Part("piece", "mask", 3, 2, 1, 8, bytes(range(100, 106)))
    header = result_message("j", "raw", [image, mask])
    assert [p["bytes"] for p in header["parts"]] == [24, 6]
    reader = ResultReader(header)
    frames = list(iter_frames(image.data, 5)) + list(iter_frames(mask.data, 4))
    assert len(frames) == 7
    done = [reader.feed(bytes(f)) for f in frames]
    assert done[-1] is True and not any(done[:-1])
    parts = reader.by_name()
    assert parts["image"][1] == image.data and parts["piece"][1] == mask.data
    with pytest.raises(ProtocolError):
        reader.feed(b"x")


def test_messages_are_clamped_and_errors_carry_retry_after():
    assert progress_message("j", "tone", 1.7)["fraction"] == 1.0
    assert progress_message("j", "tone", float("nan"))["fraction"] == 0.0
    error = ProtocolError("queue_full", "busy", retry_after=7)
    assert error.status == 503
    assert error_message("j", error)["retry_after"] == 7
    with pytest.raises(ValueError):
        ProtocolError("no_such_code", "x")
