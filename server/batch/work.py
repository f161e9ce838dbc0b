"""Retouching one catalog file: the task that local worker processes and Dask workers run.

The task takes and returns bytes (the input file, the encoded result) so that it runs the same
on this machine, in a process pool, or on a Dask worker that shares no file system with us.
Each process loads the model once (`retoucher()` caches it).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import models
from models.api import ImageError, RetouchOptions
from server.batch.codec import DecodeError, ReadSettings, encode_image, read_image

_RETOUCHER: models.Retoucher | None = None
LOAD_COUNT = 0  # how many times this process loaded the model (tests check it stays at 1)


@dataclass(frozen=True)
class BatchSettings:
    """Everything that decides a batch's output bytes (a resumed run must use the same)."""

    options: RetouchOptions = field(default_factory=RetouchOptions)
    format: str | None = None  # None: each file keeps its own format (RAW -> TIFF)
    raw_bits: int = 16
    raw_highlights: str = "blend"

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
    """What one task hands back: the encoded output, or the reason it failed."""

    output: bytes | None
    error: str | None
    seconds: float
    worker: str


def retoucher() -> models.Retoucher:
    """The model, loaded once per process."""
    global _RETOUCHER, LOAD_COUNT
    if _RETOUCHER is None:
        _RETOUCHER = models.load()
        LOAD_COUNT += 1
    return _RETOUCHER


def retouch_bytes(name: str, data: bytes, fmt: str, settings: BatchSettings) -> bytes:
    """Decode `data` (file `name`), retouch it with `settings`, encode as `fmt`.

    Raises ItemError for anything wrong with the file itself; other exceptions are failures
    of the machine running it (a Dask run retries those).
    """
    read = ReadSettings(settings.raw_bits, settings.raw_highlights)
    try:
        image, info = read_image(name, data, read)
        result = retoucher().retouch(image, settings.options)
        return encode_image(result.image, fmt, info)
    except (DecodeError, ImageError) as exc:
        raise ItemError(str(exc)) from exc


def run_task(name: str, data: bytes, fmt: str, settings: BatchSettings) -> TaskResult:
    """`retouch_bytes` with per-file errors turned into a result (they are not worth a retry)."""
    start = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}" if hasattr(os, "uname") else str(os.getpid())
    try:
        output = retouch_bytes(name, data, fmt, settings)
    except ItemError as exc:
        return TaskResult(None, str(exc), time.perf_counter() - start, worker)
    return TaskResult(output, None, time.perf_counter() - start, worker)


def warm_up() -> None:
    """Process-pool initializer: load the model before the first task arrives."""
    retoucher()
