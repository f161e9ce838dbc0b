"""The bridge's own cost: upload + decode + queue + encode + download of a 24 MP 8-bit RGBA raw
image, the model replaced by identity, over HTTP and over WebSocket; and the server's peak
memory for that job (Linux: VmHWM after resetting it through /proc/PID/clear_refs).

Targets (issue 2): round trip <= 0.5 s; peak server memory for the job <= 4x the raw size.
Run: .venv/bin/python benchmarks/bench_server.py [--repeat N] [--width W --height H]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from server.testing import receive_result, run_server  # noqa: E402

MB = 1_000_000


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def http_round_trip(srv, payload: bytes, w: int, h: int) -> float:
    """One POST with the standard library's http.client (what the GIMP plug-in uses), reading
    the answer into a preallocated buffer: the client adds as little as it can."""
    host, port = srv.http_url.split("//")[1].rsplit(":", 1)
    headers = {
        **srv.auth_headers,
        "Content-Type": "application/octet-stream",
        "Content-Length": str(len(payload)),
        "X-Width": str(w),
        "X-Height": str(h),
        "X-Channels": "4",
        "X-Depth": "8",
    }
    start = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    connection.putrequest("POST", "/v1/retouch")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    view = memoryview(payload)
    for offset in range(0, len(view), 4 << 20):
        connection.send(view[offset : offset + (4 << 20)])
    response = connection.getresponse()
    body = bytearray(int(response.getheader("Content-Length") or 0))
    target, received = memoryview(body), 0
    while received < len(body):
        count = response.readinto(target[received:])
        if not count:
            break
        received += count
    elapsed = time.perf_counter() - start
    connection.close()
    if response.status != 200 or received != len(payload):
        raise RuntimeError(f"HTTP job failed: {response.status}")
    return elapsed


def ws_round_trip(ws, payload: bytes, w: int, h: int, job: int) -> float:
    frame = 1 << 20
    header = {
        "type": "job",
        "id": f"b{job}",
        "format": "raw",
        "width": w,
        "height": h,
        "channels": 4,
        "depth": 8,
        "bytes": len(payload),
        "options": {},
        "layers": False,
    }
    view = memoryview(payload)
    start = time.perf_counter()
    ws.send(json.dumps(header))
    for offset in range(0, len(view), frame):
        ws.send(view[offset : offset + frame])
    reader, message = receive_result(ws, timeout=120)
    if message["type"] != "done":
        raise RuntimeError(f"WS job failed: {message}")
    elapsed = time.perf_counter() - start
    if reader is None or len(reader.data[0]) != len(payload):
        raise RuntimeError("WS result incomplete")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    w, h = args.width, args.height
    payload = np.random.default_rng(0).integers(0, 256, (h, w, 4), dtype=np.uint8).tobytes()
    raw_mb = len(payload) / MB
    print(f"image: {w} x {h} RGBA 8-bit raw = {raw_mb:.0f} MB; model: identity")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at start")
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_server(tmp, model="server.testing:identity_model") as srv,
    ):
        pid = srv.process.pid
        results = {}
        for channel in ("http", "ws"):
            times, peaks = [], []
            ws = None
            if channel == "ws":
                ws = connect(srv.ws_url, max_size=None, open_timeout=10).__enter__()
                ws.send(json.dumps({"type": "hello", "token": srv.token, "client": "bench"}))
                ws.recv(timeout=10)
            for n in range(args.repeat + 1):  # the first run warms up
                baseline = rss_kib(pid, "VmRSS")
                can_reset = reset_peak(pid)
                if channel == "http":
                    elapsed = http_round_trip(srv, payload, w, h)
                else:
                    elapsed = ws_round_trip(ws, payload, w, h, n)
                peak = rss_kib(pid, "VmHWM")
                if n and can_reset:
                    peaks.append(((peak - baseline) * 1024 / MB, peak * 1024 / MB))
                if n:
                    times.append(elapsed)
            if ws is not None:
                ws.close()
            results[channel] = (times, peaks)
        for channel, (times, peaks) in results.items():
            print(
                f"{channel:>4}: round trip median {statistics.median(times):.3f} s, "
                f"best {min(times):.3f} s over {len(times)} runs (target <= 0.5 s)"
            )
            if peaks:
                worst, absolute = max(peaks)
                print(
                    f"{channel:>4}: server peak memory for the job {worst:.0f} MB over its "
                    f"baseline = {worst / raw_mb:.2f}x the raw image (target <= 4x); "
                    f"whole process peak {absolute:.0f} MB"
                )
            else:
                print(f"{channel:>4}: peak memory not measured (no /proc/PID/clear_refs)")
        print(f"server resident memory after the runs: {rss_kib(pid, 'VmRSS') / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
