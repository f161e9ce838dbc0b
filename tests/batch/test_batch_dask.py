"""The batch on a Dask LocalCluster of worker processes: same bytes, model loaded once per
worker, failed tasks retried and, when they keep failing, reported (never dropped)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.batch import BatchSettings, run_batch
from server.batch import work as batch_work

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        host="127.0.0.1",
        silence_logs=40,
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def outputs(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".jewel-retouch" not in p.parts
    }


def test_dask_run_matches_local_run_byte_for_byte(tmp_path, catalog, client):
    in_dir, _ = catalog
    local = run_batch(in_dir, tmp_path / "local", BatchSettings())
    on_dask = run_batch(in_dir, tmp_path / "dask", BatchSettings(), dask=client)
    assert outputs(tmp_path / "dask") == outputs(tmp_path / "local")
    assert len(outputs(tmp_path / "local")) == 5
    assert on_dask.summary() == local.summary()
    assert on_dask.records["rings/broken.png"].status == "failed"
    workers = {r.worker for r in on_dask.records.values() if r.worker}
    assert len(workers) == 2  # the work was spread over both worker processes
    # Each worker process loaded the model exactly once, however many files it retouched.
    loads = client.run(lambda: __import__("server.batch.work").batch.work.LOAD_COUNT)
    assert sorted(loads.values()) == [1, 1]


def test_dask_by_scheduler_address(tmp_path, catalog, client):
    in_dir, _ = catalog
    manifest = run_batch(in_dir, tmp_path / "out", BatchSettings(), dask=client.scheduler.address)
    assert manifest.summary()["ok"] == 5
    assert manifest.head["runner"].startswith("dask tcp://127.0.0.1:")


def test_a_task_whose_worker_fails_is_retried(tmp_path, catalog, client):
    in_dir, _ = catalog
    marks = tmp_path / "marks"
    marks.mkdir()

    def flaky_once(name, data, fmt, settings):  # pickled by value onto the workers
        mark = marks / name.replace("/", "_")
        if not mark.exists():
            mark.write_text("failed once")
            raise ConnectionError(f"simulated worker failure on {name}")
        return batch_work.run_task(name, data, fmt, settings)

    manifest = run_batch(in_dir, tmp_path / "out", BatchSettings(), dask=client, task=flaky_once)
    assert len(list(marks.iterdir())) == 6  # every task failed once...
    assert manifest.summary()["ok"] == 5  # ...and was retried to success
    assert manifest.records["rings/broken.png"].status == "failed"
    assert outputs(tmp_path / "out").keys() == set(
        ["earrings/studs.png", "hero.png", "rings/band.jpg", "rings/gold/eternity.png"]
        + ["rings/solitaire.png"]
    )


def test_a_task_that_keeps_failing_is_reported_not_dropped(tmp_path, catalog, client):
    in_dir, _ = catalog

    def hero_always_fails(name, data, fmt, settings):
        if name == "hero.png":
            raise MemoryError("worker ran out of memory")
        return batch_work.run_task(name, data, fmt, settings)

    manifest = run_batch(
        in_dir, tmp_path / "out", BatchSettings(), dask=client, task=hero_always_fails, retries=1
    )
    hero = manifest.records["hero.png"]
    assert hero.status == "failed"
    assert "failed after 2 tries" in hero.error and "out of memory" in hero.error
    assert manifest.summary()["ok"] == 4
    assert len(manifest.records) == 6


def test_a_worker_process_that_dies_mid_task_loses_no_file(tmp_path, catalog, client):
    in_dir, _ = catalog
    marks = tmp_path / "marks"
    marks.mkdir()

    def crash_once_on_hero(name, data, fmt, settings):
        import os

        mark = marks / "hero"
        if name == "hero.png" and not mark.exists():
            mark.write_text("killed")
            os._exit(1)  # the worker process dies; its nanny starts a new one
        return batch_work.run_task(name, data, fmt, settings)

    manifest = run_batch(
        in_dir, tmp_path / "out", BatchSettings(), dask=client, task=crash_once_on_hero
    )
    assert (marks / "hero").exists()
    assert manifest.records["hero.png"].status == "ok"
    assert manifest.summary()["ok"] == 5
    client.wait_for_workers(2, timeout=120)  # leave the cluster whole for other tests
