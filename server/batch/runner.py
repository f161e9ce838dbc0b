"""Run a whole catalog folder through the model: locally (1..N processes) or on Dask.

Every way of running shares `work.run_task` (bytes in, encoded bytes out) and the same writer,
so the output files are byte-identical whichever way a batch ran.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from server.batch.plan import (
    BatchItem,
    NoImages,
    PlanError,
    confined,
    no_images_message,
    plan_batch,
    variant_path,
)
from server.batch.store import (
    FileRecord,
    Manifest,
    check_settings,
    remove_stale_temporaries,
    write_atomic,
)
from server.batch.work import (
    BatchSettings,
    TaskResult,
    pool_worker_start,
    run_task,
    use_model,
    warm_up,
)

DEFAULT_RETRIES = 2


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run; `manifest` (already saved) says what was finished."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__("batch interrupted")
        self.manifest = manifest


class ProgressSink(Protocol):
    """Told about the run as it goes (the CLI draws a progress bar from it)."""

    def start(self, total: int, skipped: int) -> None: ...

    def advance(self, record: FileRecord) -> None: ...

    def stop(self) -> None: ...


class _Quiet:
    def start(self, total: int, skipped: int) -> None:
        pass

    def advance(self, record: FileRecord) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class _Job:
    item: BatchItem
    record: FileRecord


def check_compatible(settings: BatchSettings) -> None:
    """Refuse settings that cannot be written, before any work is done."""
    if settings.format == "jpeg" and settings.options.background == "transparent":
        raise PlanError(
            "a transparent background needs an output format with alpha: use --format png, "
            "tiff or webp (JPEG has no transparency)"
        )


def run_batch(
    in_dir: Path,
    out_dir: Path,
    settings: BatchSettings,
    *,
    jobs: int = 1,
    dask: Any = None,
    overwrite: bool = False,
    progress: ProgressSink | None = None,
    retries: int = DEFAULT_RETRIES,
    task: Callable[[str, bytes, str, BatchSettings], TaskResult] = run_task,
    model: str | None = None,
) -> Manifest:
    """Retouch every image under `in_dir` into `out_dir`; returns the saved manifest.

    jobs: local worker processes (1 = in this process). dask: a scheduler address or a
    `distributed.Client`; when given, the work runs on that cluster instead. Finished outputs
    are skipped unless `overwrite`. Raises PlanError / SettingsMismatch before any work when the
    run cannot start (NoImages, a PlanError, when IN_DIR holds no image); KeyboardInterrupt
    after saving the manifest (unfinished files marked "interrupted"). `task` replaces the
    per-file task (it must behave like `work.run_task`; tests use it to inject worker
    failures). model: MODULE:FACTORY to load instead of models.load (in every worker).
    """
    check_compatible(settings)
    if jobs < 1:
        raise PlanError(f"--jobs must be at least 1; got {jobs}")
    items = plan_batch(in_dir, out_dir, settings.format)
    if not items:  # before OUT_DIR is made: a mistyped or wrong folder leaves nothing behind
        raise NoImages(no_images_message(in_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)
    settings_json = settings.to_json()
    check_settings(out_dir, settings_json, overwrite)
    runner = f"dask {dask}" if isinstance(dask, str) else ("dask" if dask else f"local x{jobs}")
    manifest = Manifest(out_dir, in_dir, settings_json, runner)
    progress = progress or _Quiet()

    # No input may ever be written: the folders are apart (plan_batch), and this is checked
    # again for every file written, links resolved.
    inputs = {(in_dir / item.source).resolve() for item in items}
    pending: list[_Job] = []
    for item in items:
        record = FileRecord(input=item.source, output=item.target)
        manifest.add(record)
        if not overwrite and confined(out_dir, item.target).is_file():
            record.status = "skipped"
        else:
            pending.append(_Job(item, record))
    progress.start(len(pending), len(items) - len(pending))
    manifest.save()

    def finish(job: _Job, result: TaskResult | None, error: str | None) -> None:
        record = job.record
        if result is not None:
            record.seconds = round(result.seconds, 4)
            record.worker = result.worker
            error = result.error
            record.warnings = list(result.warnings) or None
            if result.output is not None:
                try:
                    target = confined(out_dir, job.item.target)
                    if target in inputs:
                        raise PlanError(f"{job.item.target} is an input file; not written")
                    write_atomic(target, result.output)
                    record.bytes = len(result.output)
                    for kind, data in result.variants.items():
                        path = variant_path(target, kind)
                        if path in inputs:
                            raise PlanError(f"{path.name} is an input file; not written")
                        write_atomic(path, data)
                    record.variants = [
                        variant_path(Path(job.item.target), k).as_posix() for k in result.variants
                    ] or None
                except (OSError, PlanError) as exc:
                    error = f"cannot write {job.item.target}: {exc}"
        record.status = "failed" if error else "ok"
        record.error = error
        progress.advance(record)
        manifest.save(every=2.0)

    try:
        if dask is not None:
            _run_on_dask(dask, in_dir, pending, settings, retries, finish, task, model)
        elif jobs == 1:
            use_model(model)
            _run_here(in_dir, pending, settings, finish, task)
        else:
            _run_in_processes(in_dir, pending, settings, jobs, finish, task, model)
    except BaseException as exc:
        for job in pending:
            if job.record.status == "pending":
                job.record.status = "interrupted"
        progress.stop()
        manifest.save(finished=True)
        if isinstance(exc, KeyboardInterrupt):
            raise BatchInterrupted(manifest) from exc
        raise
    progress.stop()
    manifest.save(finished=True)
    return manifest


def _read(in_dir: Path, job: _Job) -> bytes:
    return (in_dir / job.item.source).read_bytes()


def _readable(in_dir: Path, pending: list[_Job], finish) -> Iterator[tuple[_Job, bytes]]:
    """The pending jobs with their file bytes, lazily; an unreadable file is reported and
    skipped (the pool and Dask runners pull from this as slots free up)."""
    for job in pending:
        try:
            yield job, _read(in_dir, job)
        except OSError as exc:
            finish(job, None, f"cannot read {job.item.source}: {exc}")


def _run_here(in_dir: Path, pending: list[_Job], settings: BatchSettings, finish, task) -> None:
    for job in pending:
        try:
            result = task(job.item.source, _read(in_dir, job), job.item.format, settings)
        except OSError as exc:
            finish(job, None, f"cannot read {job.item.source}: {exc}")
            continue
        except Exception as exc:  # a bug or resource failure on one file: report, go on
            finish(job, None, f"{type(exc).__name__}: {exc}")
            continue
        finish(job, result, None)


def _run_in_processes(
    in_dir: Path,
    pending: list[_Job],
    settings: BatchSettings,
    jobs: int,
    finish,
    task,
    model: str | None = None,
) -> None:
    # At most 2 files per worker in flight, so memory stays flat on a catalog of thousands.
    # spawn, not fork: a forked copy of a process that already holds torch threads can hang.
    context = multiprocessing.get_context("spawn")
    limit = jobs * 2
    queue = _readable(in_dir, pending, finish)
    pool = cf.ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=pool_worker_start,
        initargs=(os.getpid(), model),
    )
    with pool:
        in_flight: dict[cf.Future, _Job] = {}
        try:
            while True:
                while len(in_flight) < limit:
                    ready = next(queue, None)
                    if ready is None:
                        break
                    job, data = ready
                    future = pool.submit(task, job.item.source, data, job.item.format, settings)
                    in_flight[future] = job
                if not in_flight:
                    break
                done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    try:
                        finish(job, future.result(), None)
                    except Exception as exc:  # worker crashed or task raised
                        finish(job, None, f"{type(exc).__name__}: {exc}")
        except BaseException:
            for future in in_flight:
                future.cancel()
            _stop_workers(pool)
            raise


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Stop the pool now: queued tasks dropped, running ones ended (Ctrl-C, SIGTERM)."""
    # The executor has no public way to end its running workers; its process table does.
    workers = list(getattr(pool, "_processes", {}).values())
    for process in workers:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.join(10)


def _run_on_dask(
    dask: Any,
    in_dir: Path,
    pending: list[_Job],
    settings: BatchSettings,
    retries: int,
    finish,
    task,
    model: str | None = None,
) -> None:
    from dask import config as dask_config
    from distributed import Client, as_completed

    client = dask if isinstance(dask, Client) else Client(dask)
    owns_client = client is not dask
    in_flight: dict[Any, _Job] = {}
    try:
        # Load the model on every worker now, once each (tasks reuse it).
        client.run(warm_up, model)
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        limit = workers * 2
        queue = _readable(in_dir, pending, finish)
        completed = as_completed()

        def submit_next() -> None:
            while len(in_flight) < limit:
                ready = next(queue, None)
                if ready is None:
                    return
                job, data = ready
                # The bytes travel inside the task, not scattered to one worker: if that worker
                # died, scattered data would die with it and the task could not be retried.
                # One file per task is the intended size, so Dask's large-graph hint is moot.
                with dask_config.set({"distributed.admin.large-graph-warning-threshold": "4GiB"}):
                    future = client.submit(
                        task,
                        job.item.source,
                        data,
                        job.item.format,
                        settings,
                        retries=retries,
                        pure=False,
                    )
                in_flight[future] = job
                completed.add(future)

        submit_next()
        while in_flight:
            future = next(completed)
            job = in_flight.pop(future)
            try:
                finish(job, future.result(), None)
            except Exception as exc:  # failed on every try: reported, never dropped
                finish(job, None, f"failed after {retries + 1} tries: {type(exc).__name__}: {exc}")
            future.release()
            submit_next()
    except BaseException:
        for future in list(in_flight):
            future.cancel()
        raise
    finally:
        if owns_client:
            client.close()
