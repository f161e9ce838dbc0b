"""The WebSocket job session as a state machine, without sockets: events in, outputs out."""

from __future__ import annotations

import json

import pytest

from server.protocol import (
    CLOSE_PROTOCOL,
    CLOSE_UNAUTHORIZED,
    MAX_CLIENT_FRAME,
    MAX_HELLO_BYTES,
    CancelJob,
    Close,
    JobSession,
    Limits,
    Part,
    ProtocolError,
    SessionPolicy,
    SessionState,
    StartJob,
)

LIMITS = Limits(1_000_000, 4096, 1 << 20)


class FakePolicy(SessionPolicy):
    def __init__(self, refuse: ProtocolError | None = None) -> None:
        self.refuse = refuse
        self.held: list[str] = []

    def authenticate(self, token):
        return token == "right"

    def admit(self, header):
        if self.refuse is not None:
            raise self.refuse
        self.held.append(header.id)
        return header.id, 0

    def release(self, ticket):
        self.held.remove(ticket)


def hello(session: JobSession, token: str = "right") -> list:
    return session.receive_text(json.dumps({"type": "hello", "token": token}))


def job(job_id: str = "j1", width: int = 2, height: int = 2, **extra) -> str:
    fields = {"type": "job", "id": job_id, "format": "raw", "width": width, "height": height}
    fields.update(channels=3, depth=8, bytes=width * height * 3, **extra)
    return json.dumps(fields)


def types(outputs: list) -> list[str]:
    return [o["type"] if isinstance(o, dict) else type(o).__name__ for o in outputs]


@pytest.fixture
def session():
    return JobSession(FakePolicy(), LIMITS, "test")


def test_hello_then_ready_and_the_frame_limit_grows(session):
    assert session.state is SessionState.AWAITING_HELLO
    assert session.max_frame == MAX_HELLO_BYTES
    out = hello(session)
    assert types(out) == ["ready"] and out[0]["version"] == "test"
    assert session.state is SessionState.IDLE and session.max_frame == MAX_CLIENT_FRAME


def test_wrong_token_closes_4401(session):
    out = hello(session, "wrong")
    assert types(out) == ["error", "Close"]
    assert out[0]["code"] == "unauthorized" and out[1] == Close(CLOSE_UNAUTHORIZED, "unauthorized")
    assert session.state is SessionState.CLOSED
    assert session.receive_text(job()) == []


@pytest.mark.parametrize(
    "first",
    [
        "[" * 5000 + "]" * 5000,  # defect 7: deep nesting gives an error, not a crash (1011)
        '{"type": "hello", "token": ' + "[" * 5000 + "]" * 5000 + "}",
        json.dumps({"type": "hello", "token": "x" * MAX_HELLO_BYTES}),  # over a hello's size
        json.dumps({"type": "job", "id": "a"}),
        "not json",
    ],
)
def test_a_bad_first_message_is_an_error_and_4400(session, first):
    out = session.receive_text(first)
    assert types(out) == ["error", "Close"]
    assert out[0]["code"] == "bad_request" and out[1].code == CLOSE_PROTOCOL


def test_binary_before_hello_closes(session):
    assert types(session.receive_binary(b"\0" * 10)) == ["error", "Close"]


def test_a_job_from_header_to_done(session):
    hello(session)
    out = session.receive_text(job())
    assert types(out) == ["accepted"] and session.state is SessionState.RECEIVING
    assert session.policy.held == ["j1"]
    assert session.receive_binary(b"\1" * 5) == []
    (start,) = session.receive_binary(b"\1" * 7)
    assert isinstance(start, StartJob) and bytes(start.buffer) == b"\1" * 12
    assert session.state is SessionState.RUNNING
    assert types(session.job_progress("j1", "work", 0.5)) == ["progress"]
    assert session.job_progress("other", "work", 0.5) == []
    parts = [Part("image", "image", 2, 2, 3, 8, b"\2" * 12)]
    warnings = [{"code": "background_kept", "message": "kept"}]
    out = session.job_succeeded("j1", "raw", parts, {"a": 1}, warnings)
    assert types(out) == ["result", "memoryview", "done"]
    assert out[0]["warnings"] == warnings and out[2]["info"] == {"a": 1}
    assert session.state is SessionState.IDLE and session.policy.held == []


def test_one_job_at_a_time(session):
    hello(session)
    session.receive_text(job("a"))
    out = session.receive_text(job("b"))
    assert types(out) == ["error"] and out[0]["id"] == "b"
    assert session.job_id == "a"


def test_a_refused_job_has_its_frames_dropped_silently():
    session = JobSession(FakePolicy(ProtocolError("queue_full", "busy", 3)), LIMITS, "t")
    hello(session)
    out = session.receive_text(job())
    assert out[0]["code"] == "queue_full" and out[0]["retry_after"] == 3
    assert session.receive_binary(b"\0" * 12) == []
    assert session.state is SessionState.IDLE


def test_binary_without_a_header_is_reported_once(session):
    hello(session)
    assert types(session.receive_binary(b"\0")) == ["error"]
    assert session.receive_binary(b"\0") == []


def test_too_many_bytes_is_an_error_and_the_upload_is_released(session):
    hello(session)
    session.receive_text(job())
    out = session.receive_binary(b"\0" * 13)
    assert out[0]["code"] == "invalid_pixels" and session.policy.held == []


def test_cancel_while_receiving_and_while_running(session):
    hello(session)
    session.receive_text(job("a"))
    assert types(session.receive_text('{"type": "cancel", "id": "a"}')) == ["cancelled"]
    assert session.policy.held == [] and session.state is SessionState.IDLE
    session.receive_text(job("b"))
    session.receive_binary(b"\0" * 12)
    assert session.receive_text('{"type": "cancel", "id": "b"}') == [CancelJob("b")]
    assert session.receive_text('{"type": "cancel", "id": "zzz"}') == []
    assert types(session.job_cancelled("b")) == ["cancelled"]
    assert session.state is SessionState.IDLE


def test_a_stalled_upload_is_dropped(session):
    hello(session)
    session.receive_text(job())
    out = session.upload_stalled(2)
    assert out[0]["id"] == "j1" and "upload dropped" in out[0]["message"]
    assert session.policy.held == []


def test_disconnect_cancels_the_running_job_and_gives_everything_back(session):
    hello(session)
    session.receive_text(job())
    session.receive_binary(b"\0" * 12)
    assert session.disconnected() == [CancelJob("j1")]
    assert session.state is SessionState.CLOSED and session.policy.held == []
    assert session.job_succeeded("j1", "raw", [], {}, []) == []  # too late: nothing to send


def test_framing_over_the_limits_is_refused_at_the_header():
    """Defect 1 over WebSocket: the ServerPolicy checks the canvas before any byte arrives."""
    from server.app import build_state
    from server.config import ServerConfig
    from server.engine import Engine
    from server.ws import ServerPolicy
    from tests.server.conftest import IdentityRetoucher

    state = build_state(
        ServerConfig(token="t" * 40, max_pixels=1_000_000), Engine(IdentityRetoucher())
    )
    try:
        session = JobSession(ServerPolicy(state), state.limits, "t")
        session.receive_text(json.dumps({"type": "hello", "token": "t" * 40}))
        options = {"framing": "square", "canvas_size": 10000}
        out = session.receive_text(job(options=options))
        assert out[0]["type"] == "error" and out[0]["code"] == "too_large"
        assert state.uploads.used == 0
    finally:
        state.queue.stop()
