"""Batch worker processes end with their parent (SIGKILL, SIGTERM), and warnings and the
size limits reach the manifest (a stub model through --model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from server.batch import BatchSettings, run_batch
from server.testing import REPO_ROOT

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait(condition, seconds: float, step: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


def _catalog(folder: Path, count: int = 4) -> Path:
    folder.mkdir(parents=True)
    for n in range(count):
        Image.fromarray(np.full((8, 8, 3), 40 * n, np.uint8)).save(folder / f"ring{n}.png")
    return folder


def _start_batch(tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, JEWEL_RETOUCH_SLOW_STEPS="2000", JEWEL_RETOUCH_SLOW_DELAY="0.05")
    env["PYTHONPATH"] = str(REPO_ROOT)
    command = [sys.executable, "-m", "server", "batch", str(_catalog(tmp_path / "in"))]
    command += [str(tmp_path / "out"), "--jobs", "2", "--quiet"]
    command += ["--model", "server.testing:slow_model"]
    return subprocess.Popen(
        command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _workers_busy(parent: subprocess.Popen) -> set[int]:
    """The worker processes, once there are two."""
    children = _children(parent.pid)
    return children if len(children) >= 2 else set()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_their_parent(tmp_path, signum):
    parent = _start_batch(tmp_path)
    try:
        workers = _wait(lambda: _workers_busy(parent), 120)
        assert workers, parent.stderr.read().decode() if parent.poll() is not None else "none"
        time.sleep(1.0)  # let them get into their tasks
        workers = _children(parent.pid)
        parent.send_signal(signum)
        parent.wait(60)
        _wait(lambda: not _alive(workers), 30)
        assert _alive(workers) == set(), "worker processes outlived their parent"
        if signum == signal.SIGTERM:
            assert parent.returncode == 130
            manifest = next((tmp_path / "out" / ".jewel-retouch").glob("manifest-*.json"))
            statuses = {f["status"] for f in json.loads(manifest.read_text())["files"]}
            assert statuses == {"interrupted"}
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def test_warnings_are_recorded_per_image(tmp_path):
    in_dir = _catalog(tmp_path / "in", 2)
    manifest = run_batch(
        in_dir, tmp_path / "out", BatchSettings(), model="server.testing:warning_model"
    )
    saved = json.loads(manifest.path.read_text())
    for record in saved["files"]:
        assert record["status"] == "ok"
        assert [w["code"] for w in record["warnings"]] == ["background_kept"]


def test_cli_prints_each_warning(tmp_path):
    in_dir = _catalog(tmp_path / "in", 1)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "batch",
            str(in_dir),
            str(tmp_path / "out"),
            "--quiet",
            "--model",
            "server.testing:warning_model",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
    )
    assert run.returncode == 0, run.stderr
    assert "warning: ring0.png: background_kept: Background kept" in run.stderr


def test_a_framing_canvas_over_the_limits_fails_that_file_before_work(tmp_path):
    from models.api import RetouchOptions

    in_dir = _catalog(tmp_path / "in", 1)
    Image.fromarray(np.zeros((7000, 10, 3), np.uint8)).save(in_dir / "tall.png")
    options = RetouchOptions(framing="square", margin=0.45)  # up to 70000 px a side
    manifest = run_batch(
        in_dir, tmp_path / "out", BatchSettings(options), model="server.testing:warning_model"
    )
    records = {r.input: r for r in manifest.records.values()}
    assert records["tall.png"].status == "failed" and "framing" in records["tall.png"].error
    assert records["ring0.png"].status == "ok"
