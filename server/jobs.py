"""One bounded job queue shared by the HTTP API and the WebSocket channel.

`JobQueue.submit` either accepts a job or refuses at once (`queue_full`, with a Retry-After
estimate): pending jobs hold their pixels, so the queue bound is what keeps memory bounded.
N worker threads run the model. Each job's progress callback raises `models.Cancelled` once
the job is cancelled or past its deadline, which stops the model between stages or tiles.
"""

from __future__ import annotations

import collections
import itertools
import math
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from models.api import Cancelled, ImageData, Result, RetouchOptions
from server.engine import Engine
from server.memory import LARGE_JOB_BYTES, release_free_memory
from server.protocol import ProtocolError

ProgressListener = Callable[[str, float], None]
DoneListener = Callable[["Job"], None]


class Job:
    """One retouch: inputs, state and outcome. `wait()` blocks until it has finished.

    Outcome: exactly one of `result` (success), `error` (ProtocolError: timeout, internal,
    invalid_options...) or `cancelled` is set when `done` is.
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        image: ImageData,
        options: RetouchOptions,
        layers: bool = False,
        on_progress: ProgressListener | None = None,
        on_done: DoneListener | None = None,
        label: str | None = None,
    ) -> None:
        self.number = next(self._ids)
        self.label = label or f"job-{self.number}"
        self.image: ImageData | None = image
        self.options = options
        self.layers = layers
        self.on_progress = on_progress
        self.on_done = on_done
        self.result: Result | None = None
        self.error: ProtocolError | None = None
        self.cancelled = False
        self.deadline: float | None = None
        self.queued_at = time.monotonic()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._finish_lock = threading.Lock()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Ask the job to stop; a pending job never starts, a running one stops at its next
        progress report."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def progress(self, stage: str, fraction: float) -> None:
        """The model's progress callback: reports, then stops the work if asked to."""
        if self._cancel.is_set():
            raise Cancelled("cancelled by the client")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Cancelled("timeout")
        if self.on_progress is not None:
            try:
                self.on_progress(stage, float(fraction))
            except Exception:  # a listener's failure must not kill the job
                pass

    def finish(
        self,
        result: Result | None = None,
        error: ProtocolError | None = None,
        cancelled: bool = False,
    ) -> None:
        with self._finish_lock:
            if self._done.is_set():
                return
            self.result, self.error, self.cancelled = result, error, cancelled
            self.image = None  # release the input as soon as possible
            self.finished_at = time.monotonic()
            self._done.set()
        if self.on_done is not None:
            try:
                self.on_done(self)
            except Exception:
                pass


class JobQueue:
    """Bounded FIFO of pending jobs served by `workers` threads."""

    def __init__(
        self,
        engine: Engine,
        workers: int = 1,
        queue_size: int = 4,
        job_timeout: float = 600.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if queue_size < 0:
            raise ValueError("queue_size must be >= 0")
        self.engine = engine
        self.workers = workers
        self.queue_size = queue_size
        self.job_timeout = job_timeout
        self._pending: collections.deque[Job] = collections.deque()
        self._running: set[Job] = set()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._mean_seconds = 5.0  # running estimate of one job's duration, for Retry-After

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> JobQueue:
        with self._cond:
            if self._threads:
                return self
            self._stopping = False
            for n in range(self.workers):
                thread = threading.Thread(
                    target=self._work, name=f"retouch-worker-{n}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel everything and let the workers end."""
        with self._cond:
            self._stopping = True
            pending = list(self._pending)
            self._pending.clear()
            running = list(self._running)
            self._cond.notify_all()
        for job in pending:
            job.finish(error=ProtocolError("unavailable", "the server is shutting down", 1))
        for job in running:
            job.cancel()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    # -- submission ---------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Jobs accepted at once: one running per worker plus `queue_size` waiting."""
        return self.workers + self.queue_size

    def retry_after(self) -> int:
        waiting = len(self._pending) + len(self._running)
        return max(1, math.ceil(self._mean_seconds * waiting / self.workers))

    def submit(self, job: Job) -> int:
        """Queue `job`; returns how many jobs are ahead of it (0: it starts at once).

        Raises ProtocolError `queue_full` (with retry_after) or `unavailable` when stopping.
        """
        with self._cond:
            if self._stopping:
                raise ProtocolError("unavailable", "the server is shutting down", retry_after=5)
            busy = len(self._pending) + len(self._running)
            if busy >= self.capacity:
                raise ProtocolError(
                    "queue_full",
                    f"the server is busy ({busy} jobs); try again shortly",
                    retry_after=self.retry_after(),
                )
            position = max(0, busy - self.workers + 1) if busy >= self.workers else 0
            job.queued_at = time.monotonic()
            self._pending.append(job)
            self._cond.notify()
            return position

    def cancel(self, job: Job) -> None:
        """Cancel `job`: removed at once when pending, stopped at its next report when running."""
        job.cancel()
        with self._cond:
            try:
                self._pending.remove(job)
            except ValueError:
                return
        job.finish(cancelled=True)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "pending": len(self._pending),
                "running": len(self._running),
                "workers": self.workers,
                "queue_size": self.queue_size,
            }

    # -- workers ------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._pending.popleft()
                self._running.add(job)
            outcome: dict[str, Any] = {"cancelled": True}
            large = job.image is not None and job.image.pixels.nbytes >= LARGE_JOB_BYTES
            try:
                outcome = self._run(job)
            finally:
                # Free the slot before telling anyone, so a client told "done" can resubmit.
                with self._cond:
                    self._running.discard(job)
                job.finish(**outcome)
                del outcome
                if large:  # the model's temporaries are freed now: give them back to the OS
                    release_free_memory()

    def _run(self, job: Job) -> dict[str, Any]:
        """Run one job; returns the keyword arguments of `job.finish`."""
        if job.cancel_requested or job.image is None:
            return {"cancelled": True}
        job.started_at = time.monotonic()
        job.deadline = job.started_at + self.job_timeout
        try:
            result = self.engine.retouch(job.image, job.options, job.progress, job.layers)
        except BaseException as exc:
            # The traceback's frames hold the job's progress callback (and through it a
            # client's connection) in a cycle that only the garbage collector would free.
            traceback.clear_frames(exc.__traceback__)
            if not isinstance(exc, Exception):
                raise
            return self._failed(job, exc)
        elapsed = time.monotonic() - job.started_at
        if job.deadline is not None and time.monotonic() > job.deadline:
            return {"error": _timeout_error(self.job_timeout)}
        self._mean_seconds = 0.7 * self._mean_seconds + 0.3 * elapsed
        if job.cancel_requested:
            return {"cancelled": True}
        return {"result": result}

    def _failed(self, job: Job, exc: Exception) -> dict[str, Any]:
        """The `job.finish` arguments for a retouch that raised `exc`."""
        if isinstance(exc, Cancelled):
            if job.cancel_requested:
                return {"cancelled": True}
            return {"error": _timeout_error(self.job_timeout)}
        if isinstance(exc, ProtocolError):
            return {"error": exc}
        if isinstance(exc, (ValueError, TypeError)):
            # models.OptionsError / ImageError are ValueErrors: the input, not the server.
            code = "invalid_options" if type(exc).__name__ == "OptionsError" else "invalid_pixels"
            return {"error": ProtocolError(code, str(exc))}
        if isinstance(exc, MemoryError):
            return {"error": ProtocolError("too_large", "not enough memory for this image")}
        # A model bug must not take the server down.
        return {"error": ProtocolError("internal", f"the model failed: {type(exc).__name__}")}


class ByteBudget:
    """Bytes of uploads held at once, over HTTP and WebSocket together.

    Each upload reserves its declared size before its buffer is allocated, so many clients
    uploading at once cannot make memory grow without bound; over budget -> `queue_full`.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def reserve(self, size: int, retry_after: int = 2) -> Reservation:
        reservation = Reservation(self, 0, retry_after)
        reservation.grow(size)
        return reservation

    def _take(self, size: int, held: int, retry_after: int) -> None:
        """Add `size` bytes for a reservation already holding `held` (one upload alone may
        exceed the budget; nothing may join one past it)."""
        with self._lock:
            others = self.used - held
            if size and self.used + size > self.limit and others > 0:
                raise ProtocolError(
                    "queue_full",
                    f"the server is receiving other images ({others} bytes); try again shortly",
                    retry_after=retry_after,
                )
            self.used += size


class Reservation:
    """A reserved share of a ByteBudget; `grow()` adds to it, `release()` (idempotent) gives
    it back."""

    def __init__(self, budget: ByteBudget, size: int, retry_after: int = 2) -> None:
        self._budget = budget
        self._size = size
        self._retry_after = retry_after

    @property
    def size(self) -> int:
        return self._size

    def grow(self, size: int) -> None:
        """Reserve `size` more bytes (ProtocolError `queue_full` past the budget)."""
        self._budget._take(size, self._size, self._retry_after)
        self._size += size

    def release(self) -> None:
        with self._budget._lock:
            self._budget.used -= self._size
            self._size = 0

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _timeout_error(seconds: float) -> ProtocolError:
    return ProtocolError("timeout", f"the job ran past its time limit of {seconds:g} s")
