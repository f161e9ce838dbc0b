"""Retouching one catalog file: the task that local worker processes and Dask workers run.

The task takes and returns bytes (the input file, the encoded result) so that it runs the same
on this machine, in a process pool, or on a Dask worker that shares no file system with us.
Each process loads the model once (`engine()` caches it) and runs it through the server's
`Engine`, so a batch treats grey, 16-bit and ICC-tagged files exactly as the server does.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from models.api import ImageError, RetouchOptions
from server.batch.codec import DecodeError, ReadSettings, encode_image, read_image
from server.batch.plan import format_name
from server.engine import Engine
from server.imageio import DEFAULT_LIMITS
from server.job_input import run_warnings
from server.protocol import ProtocolError
from server.sizing import check_job_size

_ENGINE: Engine | None = None
_MODEL_SPEC: str | None = None  # MODULE:FACTORY instead of models.load (tests, experiments)
LOAD_COUNT = 0  # how many times this process loaded the model (tests check it stays at 1)
PARENT_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class BatchSettings:
    """Everything that decides a batch's output bytes (a resumed run must use the same)."""

    options: RetouchOptions = field(default_factory=RetouchOptions)
    format: str | None = None  # None: each file keeps its own format (RAW -> TIFF)
    raw_bits: int = 16
    raw_highlights: str = "blend"

    def __post_init__(self) -> None:
        if self.format is not None:  # one name per format: "jpg" is "jpeg"
            object.__setattr__(self, "format", format_name(self.format))

    def to_json(self) -> dict[str, Any]:
        return {
            "options": self.options.to_dict(),
            "format": self.format,
            "raw_bits": self.raw_bits,
            "raw_highlights": self.raw_highlights,
        }


class ItemError(Exception):
    """This file cannot be retouched (bad or unsupported file): report it, go on, never retry."""


@dataclass(frozen=True)
class TaskResult:
    """What one task hands back: the encoded output (and the run's warnings), or the reason
    it failed."""

    output: bytes | None
    error: str | None
    seconds: float
    worker: str
    warnings: list[dict[str, str]] = field(default_factory=list)
    variants: dict[str, bytes] = field(default_factory=dict)  # metal -> encoded file


def use_model(spec: str | None) -> None:
    """Load the model from MODULE:FACTORY in this process (None: models.load)."""
    global _MODEL_SPEC, _ENGINE
    if spec != _MODEL_SPEC:
        _MODEL_SPEC, _ENGINE = spec, None


def engine() -> Engine:
    """The model behind the server's Engine, loaded once per process."""
    global _ENGINE, LOAD_COUNT
    if _ENGINE is None:
        if _MODEL_SPEC:
            from server.commands.serve import load_engine

            _ENGINE = load_engine(_MODEL_SPEC)
        else:
            _ENGINE = Engine()
        LOAD_COUNT += 1
    return _ENGINE


def retouch_bytes(
    name: str, data: bytes, fmt: str, settings: BatchSettings
) -> tuple[bytes, list[dict[str, str]], dict[str, bytes]]:
    """Decode `data` (file `name`), retouch it with `settings`, encode as `fmt`; returns the
    file, the run's warnings and the metal variants' files (metal -> bytes).

    Raises ItemError for anything wrong with the file itself; other exceptions are failures
    of the machine running it (a Dask run retries those).
    """
    read = ReadSettings(settings.raw_bits, settings.raw_highlights)
    try:
        image, info = read_image(name, data, read)
        check_job_size(DEFAULT_LIMITS, image.width, image.height, settings.options)
        result = engine().retouch(image, settings.options)
        fmt_name = format_name(fmt)
        variants = {k: encode_image(v, fmt_name, info) for k, v in result.variants.items()}
        return encode_image(result.image, fmt_name, info), run_warnings(result.info), variants
    except (DecodeError, ImageError, ProtocolError) as exc:
        raise ItemError(str(exc)) from exc


def run_task(name: str, data: bytes, fmt: str, settings: BatchSettings) -> TaskResult:
    """`retouch_bytes` with per-file errors turned into a result (they are not worth a retry)."""
    start = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}" if hasattr(os, "uname") else str(os.getpid())
    try:
        output, warnings, variants = retouch_bytes(name, data, fmt, settings)
    except ItemError as exc:
        return TaskResult(None, str(exc), time.perf_counter() - start, worker)
    return TaskResult(output, None, time.perf_counter() - start, worker, warnings, variants)


def warm_up(model_spec: str | None = None) -> None:
    """Dask worker set-up: load the model before the first task arrives."""
    use_model(model_spec)
    engine()


def pool_worker_start(parent_pid: int, model_spec: str | None = None) -> None:
    """Process-pool initializer: die with the parent, leave Ctrl-C to it, load the model.

    A worker holds a whole model (hundreds of MB); one left running after its parent was
    killed would hold it for ever.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    _die_with_parent(parent_pid)
    warm_up(model_spec)


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:  # the kernel's parent-death signal: immediate, even after SIGKILL of the parent
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent went before we could ask
        os._exit(1)

    def watch() -> None:  # every OS: a parent that is gone leaves us re-parented
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
