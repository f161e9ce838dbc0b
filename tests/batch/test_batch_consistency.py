"""Consistency at volume: one input and one set of settings give identical output bytes
whether retouched by a local batch (1 or 2 processes), through the server's HTTP API and its
WebSocket job channel, or on a Dask cluster."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import requests
import websockets

from models.api import RetouchOptions
from server.batch import BatchSettings, run_batch
from server.testing import run_server

# Seconds a `jewel-retouch serve` may take to start: generous, for a busy machine.
SERVER_START_S = 300

distributed = pytest.importorskip("distributed")

OPTIONS = {"background": "white", "strength": 0.8, "metal": "yellow_gold", "gem_contrast": 0.3}
MIME = {".png": "image/png", ".jpg": "image/jpeg"}
WIRE_FORMAT = {".png": "png", ".jpg": "jpeg"}


async def retouch_over_websocket(ws_url: str, token: str, data: bytes, fmt: str) -> bytes:
    async with websockets.connect(ws_url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token, "client": "test/1"}))
        assert json.loads(await ws.recv())["type"] == "ready"
        header = {"type": "job", "id": "j1", "format": fmt, "bytes": len(data)}
        await ws.send(json.dumps({**header, "options": OPTIONS, "layers": False}))
        await ws.send(data)
        chunks: list[bytes] = []
        while True:
            message = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(message, bytes):
                chunks.append(message)
                continue
            event = json.loads(message)
            assert event["type"] != "error", event
            if event["type"] == "done":
                return b"".join(chunks)


def test_local_server_and_dask_give_identical_bytes(tmp_path, catalog):
    in_dir, files = catalog
    good = [rel for rel in files if rel != "rings/broken.png"]
    settings = BatchSettings(RetouchOptions.from_mapping(OPTIONS))
    run_batch(in_dir, tmp_path / "local", settings)
    run_batch(in_dir, tmp_path / "local2", settings, jobs=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0", host="127.0.0.1"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        run_batch(in_dir, tmp_path / "dask", settings, dask=client)
    with run_server(tmp_path, startup_timeout=SERVER_START_S) as srv:
        for rel in good:
            suffix = Path(rel).suffix
            data = files[rel].read_bytes()
            local = (tmp_path / "local" / rel).read_bytes()
            assert (tmp_path / "local2" / rel).read_bytes() == local, rel
            assert (tmp_path / "dask" / rel).read_bytes() == local, rel
            answer = requests.post(
                srv.http_url + "/v1/retouch",
                data=data,
                headers={
                    **srv.auth_headers,
                    "Content-Type": MIME[suffix],
                    "X-Options": json.dumps(OPTIONS),
                },
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            assert answer.content == local, f"HTTP answer differs from the batch for {rel}"
            over_ws = asyncio.run(
                retouch_over_websocket(srv.ws_url, srv.token, data, WIRE_FORMAT[suffix])
            )
            assert over_ws == local, f"WebSocket answer differs from the batch for {rel}"
