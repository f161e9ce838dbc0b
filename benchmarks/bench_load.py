"""A bounded load test of a real server process: mixed HTTP and WebSocket clients for a fixed
time, then clients that never read their results, then the memory a large job leaves behind.

Prints jobs, errors, latency percentiles and the server's peak memory (Linux: VmHWM) for each
phase. Bounded by design (a fixed duration, a fixed number of clients), so it is safe to run on
a shared machine; the README quotes its figures.

Run: .venv/bin/python benchmarks/bench_load.py [--seconds 60] [--clients 4] [--unread 100]
     [--model server.testing:identity_model] [--trim-megapixels 12]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import requests  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from server.testing import hello, raw_job, raw_ws, receive_result, run_server  # noqa: E402

MIB = 1 << 20


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- phase 1: mixed clients --------------------------------------------------------------------


def http_client(srv, px: np.ndarray, stop: threading.Event, out: list, errors: list) -> None:
    h, w, c = px.shape
    headers = {**srv.auth_headers, "Content-Type": "application/octet-stream"}
    headers.update({"X-Width": str(w), "X-Height": str(h), "X-Channels": str(c), "X-Depth": "8"})
    body = px.tobytes()
    with requests.Session() as session:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                response = session.post(
                    srv.http_url + "/v1/retouch", data=body, headers=headers, timeout=600
                )
                ok = response.status_code == 200 and len(response.content) == len(body)
            except requests.RequestException as exc:
                ok, response = False, exc
            if ok:
                out.append(time.perf_counter() - start)
            elif getattr(response, "status_code", 0) == 503:
                time.sleep(float(response.headers.get("Retry-After", "1")))  # busy: as told
                errors.append("503 busy (retried)")
            else:
                errors.append(f"http: {getattr(response, 'status_code', response)}")


def ws_client(srv, px: np.ndarray, stop: threading.Event, out: list, errors: list) -> None:
    h, w, c = px.shape
    data = px.tobytes()
    with connect(srv.ws_url, max_size=None, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "hello", "token": srv.token, "client": "bench-load"}))
        ws.recv(timeout=30)
        n = 0
        while not stop.is_set():
            n += 1
            header = {"type": "job", "id": f"l{n}", "format": "raw", "width": w, "height": h}
            header.update(channels=c, depth=8, bytes=len(data))
            start = time.perf_counter()
            ws.send(json.dumps(header))
            ws.send(data)
            reader, outcome = receive_result(ws, timeout=600)
            if outcome["type"] == "done" and reader is not None and reader.complete:
                out.append(time.perf_counter() - start)
            elif outcome.get("code") == "queue_full":
                errors.append("queue_full (retried)")
                time.sleep(outcome.get("retry_after", 1))
            else:
                errors.append(f"ws: {outcome.get('code', outcome['type'])}")


def mixed_load(srv, clients: int, seconds: float, side: int) -> None:
    px = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    stop = threading.Event()
    latencies: dict[str, list[float]] = {"http": [], "ws": []}
    errors: list[str] = []
    threads = []
    for n in range(clients):
        kind = "http" if n % 2 == 0 else "ws"
        target = http_client if kind == "http" else ws_client
        threads.append(
            threading.Thread(target=target, args=(srv, px, stop, latencies[kind], errors))
        )
    pid = srv.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(900)
    elapsed = time.perf_counter() - started
    everything = latencies["http"] + latencies["ws"]
    hard = [e for e in errors if "retried" not in e]
    print(
        f"mixed load: {clients} clients ({clients - clients // 2} HTTP, {clients // 2} WebSocket), "
        f"{side} x {side} RGB 8-bit, {elapsed:.0f} s"
    )
    print(
        f"  jobs {len(everything)} (HTTP {len(latencies['http'])}, WS {len(latencies['ws'])}), "
        f"errors {len(hard)}, busy answers retried {len(errors) - len(hard)}"
    )
    if everything:
        print(
            f"  latency p50 {percentile(everything, 50):.2f} s, p90 "
            f"{percentile(everything, 90):.2f} s, p99 {percentile(everything, 99):.2f} s, "
            f"max {max(everything):.2f} s"
        )
    print(
        f"  server peak memory {status_kib(pid, 'VmHWM') / 1024:.0f} MiB, resident after "
        f"{status_kib(pid, 'VmRSS') / 1024:.0f} MiB"
    )
    for error in sorted(set(hard))[:5]:
        print(f"  error: {error}")


# --- phase 2: clients that never read ----------------------------------------------------------


def unread_round(srv, count: int, px: np.ndarray, round_number: int) -> None:
    """`count` clients send a job each and never read; returns once all were dropped."""
    with contextlib.ExitStack() as stack:
        for n in range(count):
            sock, _ = stack.enter_context(raw_ws(srv.ws_url, rcvbuf=32 << 10))
            hello(sock, srv.token)
            raw_job(sock, px, job_id=f"unread-{round_number}-{n}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until every job ran
            info = requests.get(srv.http_url + "/v1/info", headers=srv.auth_headers).json()
            if not info["queue"]["pending"] and not info["queue"]["running"]:
                break
            time.sleep(0.5)
        time.sleep(5 + 2)  # the result timeout, plus the drop


def unread_clients(tmp: str, count: int, side: int, rounds: int = 3) -> None:
    px = np.full((side, side, 4), 9, np.uint8)
    flags = {"model": "server.testing:identity_model", "result_timeout": 5}
    flags["queue_size"] = count
    with run_server(tmp, **flags) as srv:
        pid = srv.process.pid
        time.sleep(1)
        figures = [status_kib(pid, "VmRSS")]
        for round_number in range(rounds):
            unread_round(srv, count, px, round_number)
            time.sleep(2)
            figures.append(status_kib(pid, "VmRSS"))
        peak = status_kib(pid, "VmHWM")
        served = requests.get(srv.http_url + "/v1/health", timeout=30).status_code == 200
    print(
        f"unread results: {rounds} rounds of {count} WebSocket clients, each sent a "
        f"{px.nbytes / MIB:.0f} MiB job and never read (result timeout 5 s)"
    )
    after = ", ".join(f"{kib / 1024:.0f}" for kib in figures[1:])
    print(
        f"  server resident {figures[0] / 1024:.0f} MiB before, after each round {after} MiB "
        f"(peak {peak / 1024:.0f} MiB); still serving: {served}"
    )


# --- phase 3: memory left after a large job ----------------------------------------------------


def trim_probe(megapixels: float, model: str | None) -> None:
    """(In a fresh process.) Resident memory after a large job, before and after the trim."""
    from models.api import ImageData, RetouchOptions
    from server.commands.serve import load_engine
    from server.memory import release_free_memory, rss_bytes

    side = int((megapixels * 1e6) ** 0.5)
    engine = load_engine(model)
    rng = np.random.default_rng(2)
    image = ImageData(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    idle = rss_bytes()
    result = engine.retouch(image, RetouchOptions())
    del result
    gc.collect()
    before = rss_bytes()
    release_free_memory()
    after = rss_bytes()
    print(
        f"after a {side * side / 1e6:.0f} MP job ({'shipped model' if not model else model}): "
        f"resident {before / MIB:.0f} MiB, {after / MIB:.0f} MiB after malloc_trim "
        f"({(before - after) / MIB:.0f} MiB returned; {idle / MIB:.0f} MiB with the image "
        "loaded, before the job)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="mixed-load duration")
    parser.add_argument("--clients", type=int, default=4, help="mixed-load clients")
    parser.add_argument("--side", type=int, default=512, help="mixed-load image side, px")
    parser.add_argument("--model", default=None, help="MODULE:FACTORY (default: shipped model)")
    parser.add_argument("--unread", type=int, default=100, help="clients that never read")
    parser.add_argument("--trim-megapixels", type=float, default=12.0)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of unread clients")
    parser.add_argument(
        "--phases", default="mixed,unread,trim", help="which phases to run (comma-separated)"
    )
    parser.add_argument("--trim-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trim_probe:
        trim_probe(args.trim_megapixels, args.model)
        return 0
    if not Path("/proc/self/clear_refs").exists():
        print("bench_load: needs Linux /proc for memory figures; skipped")
        return 0
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at start")
    phases = set(args.phases.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        flags = {"queue_size": 8}
        if args.model:
            flags["model"] = args.model
        if "mixed" in phases:
            with run_server(Path(tmp) / "mixed", **flags) as srv:
                mixed_load(srv, args.clients, args.seconds, args.side)
        if "unread" in phases:
            unread_clients(str(Path(tmp) / "unread"), args.unread, 512, args.rounds)
    if "trim" not in phases:
        return 0
    probe = [sys.executable, __file__, "--trim-probe", "--trim-megapixels"]
    probe.append(str(args.trim_megapixels))
    if args.model:
        probe += ["--model", args.model]
    return subprocess.call(probe)


if __name__ == "__main__":
    sys.exit(main())
