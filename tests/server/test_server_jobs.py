"""The job queue on its own: bounded, cancellable, timed, and robust to model failures."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from models.api import ImageData, RetouchOptions
from server.engine import Engine
from server.jobs import Job, JobQueue
from server.protocol import ProtocolError
from server.testing import SlowRetoucher


def image():
    return ImageData(np.zeros((4, 4, 3), np.uint8))


@pytest.fixture
def queue_factory():
    queues = []

    def make(retoucher, **kwargs):
        q = JobQueue(Engine(retoucher), **kwargs).start()
        queues.append(q)
        return q

    yield make
    for q in queues:
        q.stop(timeout=5)


def test_bounded_queue_refuses_with_retry_after_then_accepts_again(queue_factory, gated_retoucher):
    slow = gated_retoucher  # the running job holds its worker until released
    q = queue_factory(slow, workers=1, queue_size=1)
    running, waiting = Job(image(), RetouchOptions()), Job(image(), RetouchOptions())
    assert q.submit(running) == 0
    assert slow.started.wait(30)
    assert q.submit(waiting) == 1
    with pytest.raises(ProtocolError) as full:
        q.submit(Job(image(), RetouchOptions()))
    assert full.value.code == "queue_full" and full.value.retry_after >= 1
    slow.release.set()
    assert running.wait(30) and waiting.wait(30)
    assert running.result is not None and waiting.result is not None
    assert q.submit(Job(image(), RetouchOptions())) == 0


def test_cancel_pending_job_never_runs_and_frees_its_slot(queue_factory, gated_retoucher):
    slow = gated_retoucher  # `first` runs until cancelled: `second` stays pending
    q = queue_factory(slow, workers=1, queue_size=1)
    first, second = Job(image(), RetouchOptions()), Job(image(), RetouchOptions())
    q.submit(first)
    assert slow.started.wait(30)
    q.submit(second)
    q.cancel(second)
    assert second.done and second.cancelled and second.image is None
    assert q.stats()["pending"] == 0
    q.cancel(first)
    assert first.wait(30) and first.cancelled


def test_cancel_running_job_stops_the_model_between_steps(queue_factory):
    slow = SlowRetoucher(steps=5000, delay=0.01)  # 50 s unless stopped
    q = queue_factory(slow)
    job = Job(image(), RetouchOptions())
    q.submit(job)
    assert slow.started.wait(30)
    q.cancel(job)
    assert job.wait(30)
    assert job.cancelled and job.result is None
    assert slow.ticks < 2500


def test_timeout_stops_the_job(queue_factory):
    slow = SlowRetoucher(steps=5000, delay=0.01)  # 50 s unless stopped
    q = queue_factory(slow, job_timeout=0.2)
    job = Job(image(), RetouchOptions())
    q.submit(job)
    assert job.wait(30)
    assert job.error is not None and job.error.code == "timeout"
    assert slow.ticks < 2500


def test_progress_reaches_the_listener_and_a_failing_listener_is_harmless(queue_factory):
    seen = []

    def listener(stage, fraction):
        seen.append((stage, fraction))
        raise RuntimeError("listener bug")

    q = queue_factory(SlowRetoucher(steps=3, delay=0))
    job = Job(image(), RetouchOptions(), on_progress=listener)
    q.submit(job)
    assert job.wait(5) and job.result is not None
    assert seen[0] == ("work", 0.0) and seen[-1] == ("done", 1.0)


@pytest.mark.parametrize(
    "exc, code",
    [
        (RuntimeError("bug"), "internal"),
        (MemoryError(), "too_large"),
        (ValueError("x"), "invalid_pixels"),
    ],
)
def test_model_failures_become_protocol_errors_and_workers_survive(queue_factory, exc, code):
    class Failing:
        name = version = "f"

        def retouch(self, image, options=None, progress=None, layers=False):
            raise exc

    q = queue_factory(Failing())
    for _ in range(2):
        job = Job(image(), RetouchOptions())
        q.submit(job)
        assert job.wait(5)
        assert job.error.code == code


def test_workers_run_jobs_in_parallel(queue_factory):
    slow = SlowRetoucher(steps=10, delay=0.03)
    q = queue_factory(slow, workers=2, queue_size=0)
    jobs = [Job(image(), RetouchOptions()) for _ in range(2)]
    for job in jobs:
        assert q.submit(job) == 0
    assert all(job.wait(10) for job in jobs)


def test_stop_fails_pending_jobs_and_cancels_running(queue_factory, gated_retoucher):
    slow = gated_retoucher  # runs until stopped
    q = queue_factory(slow, workers=1, queue_size=2)
    running, pending = Job(image(), RetouchOptions()), Job(image(), RetouchOptions())
    q.submit(running)
    q.submit(pending)
    assert slow.started.wait(30)
    q.stop(timeout=30)
    assert pending.done and pending.error.code == "unavailable"
    assert running.wait(30) and running.cancelled
    with pytest.raises(ProtocolError):
        q.submit(Job(image(), RetouchOptions()))


def test_done_listener_runs_once(queue_factory):
    calls = []
    event = threading.Event()
    q = queue_factory(SlowRetoucher(steps=1, delay=0))
    job = Job(image(), RetouchOptions(), on_done=lambda j: (calls.append(j), event.set()))
    q.submit(job)
    assert event.wait(5)
    job.finish(cancelled=True)  # a late second finish is ignored
    assert calls == [job] and not job.cancelled


def test_upload_budget_bounds_bytes_held_at_once():
    from server.jobs import ByteBudget

    budget = ByteBudget(100)
    first = budget.reserve(60)
    with pytest.raises(ProtocolError) as full:
        budget.reserve(50, retry_after=3)
    assert full.value.code == "queue_full" and full.value.retry_after == 3
    with budget.reserve(40):
        assert budget.used == 100
    first.release()
    first.release()  # idempotent
    assert budget.used == 0
    budget.reserve(500).release()  # one upload alone may use the whole limit and more
