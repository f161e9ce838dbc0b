"""Closed WebSocket connections are freed at once, without the garbage collector (issue 12,
defect 8): no reference cycles through jobs, callbacks or queued frames."""

from __future__ import annotations

import gc
import json
import time

import numpy as np
import pytest
from websockets.sync.client import connect

from server.config import ServerConfig
from server.engine import Engine
from server.runner import RunningServer
from server.testing import SlowRetoucher


@pytest.fixture
def running(tmp_path):
    config = ServerConfig(
        port=0,
        ws_port=0,
        token="t0k3n-" + "x1y2z3w4" * 5,
        queue_size=8,
        config_dir=tmp_path,
        result_timeout=1.0,
    )
    # Jobs of about a second: the "running" connections always close mid-job (the cancel path).
    server = RunningServer.start(config, engine=Engine(SlowRetoucher(steps=20, delay=0.05)))
    yield server
    server.stop()


def _hello(ws, token: str) -> None:
    ws.send(json.dumps({"type": "hello", "token": token}))
    assert json.loads(ws.recv(timeout=30))["type"] == "ready"


def _job(ws, job_id: str, px: np.ndarray) -> None:
    h, w, c = px.shape
    ws.send(
        json.dumps(
            {
                "type": "job",
                "id": job_id,
                "format": "raw",
                "width": w,
                "height": h,
                "channels": c,
                "depth": 8,
                "bytes": px.nbytes,
            }
        )
    )


def test_closed_connections_are_freed_without_the_garbage_collector(running):
    token = running.state.token
    px = np.zeros((64, 64, 4), np.uint8)
    gc.collect()
    gc.disable()
    try:
        for n in range(3):  # a finished job, an upload cut short, a job cut short
            with connect(running.ws_url, max_size=None, open_timeout=30) as ws:
                _hello(ws, token)
                _job(ws, f"done-{n}", px)
                ws.send(px.tobytes())
                while True:
                    item = ws.recv(timeout=60)
                    if isinstance(item, str) and json.loads(item)["type"] == "done":
                        break
            with connect(running.ws_url, max_size=None, open_timeout=30) as ws:
                _hello(ws, token)
                _job(ws, f"partial-{n}", px)
                ws.send(px.tobytes()[:100])
            with connect(running.ws_url, max_size=None, open_timeout=30) as ws:
                _hello(ws, token)
                _job(ws, f"running-{n}", px)
                ws.send(px.tobytes())
                assert json.loads(ws.recv(timeout=30))["type"] == "accepted"
        deadline = time.monotonic() + 60
        while len(running.channel.connections) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(running.channel.connections) == 0
        assert running.state.uploads.used == 0
    finally:
        gc.enable()


def test_dropped_readers_leave_no_cycles_behind(running):
    """A client dropped for not reading its result: websockets' stored parser exception once
    kept the protocol, its transport and the unsent result alive until a GC pass."""
    from server.testing import hello, raw_job, raw_ws

    # 25 MB: far more than the buffers on the way can hold (kernel autotuning reaches ~8 MB)
    px = np.full((2500, 2500, 4), 3, np.uint8)
    gc.collect()
    gc.disable()
    try:
        for n in range(2):
            with raw_ws(running.ws_url, rcvbuf=32 << 10) as (sock, _):
                hello(sock, running.state.token)
                raw_job(sock, px, job_id=f"unread-{n}")
                deadline = time.monotonic() + 60
                sock.settimeout(0.5)
                while time.monotonic() < deadline and len(running.channel.connections):
                    time.sleep(0.2)  # reading nothing, until the server gives up on us
        deadline = time.monotonic() + 30
        while len(running.channel.connections) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(running.channel.connections) == 0
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        kept = {type(o).__name__ for o in gc.garbage}
        assert "ServerProtocol" not in kept and "ServerConnection" not in kept, kept
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
