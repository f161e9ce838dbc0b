"""Writing into OUT_DIR safely: atomic files, the per-run manifest, and the resume state.

Results are written to a hidden temporary file in the target's folder, flushed to disk and
renamed over the target (`os.replace`, atomic on POSIX and Windows), so a crash or Ctrl-C never
leaves a half-written image. `OUT_DIR/.jewel-retouch/` holds `settings.json` (what the outputs
were made with: a resumed run must match) and one `manifest-<UTC time>.json` per run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from server.batch.plan import STATE_DIR_NAME

TEMP_MARK = ".jr-partial-"


class SettingsMismatch(ValueError):
    """OUT_DIR already holds results made with other settings."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that `path` is either absent/old or complete, never partial."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


def remove_stale_temporaries(out_dir: Path) -> int:
    """Delete temporary files left by a run that was killed mid-write; returns how many."""
    removed = 0
    if not out_dir.is_dir():
        return 0
    for temp in out_dir.rglob(f".*{TEMP_MARK}*"):
        if temp.is_file():
            temp.unlink()
            removed += 1
    return removed


def check_settings(out_dir: Path, settings: dict[str, Any], overwrite: bool) -> None:
    """Record the run's settings; refuse to resume into outputs made with other settings."""
    state = out_dir / STATE_DIR_NAME / "settings.json"
    if state.exists() and not overwrite:
        try:
            previous = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if isinstance(previous, dict) and previous.get("format") == "jpg":
            previous["format"] = "jpeg"  # the name earlier versions recorded
        if previous is not None and previous != settings:
            raise SettingsMismatch(
                f"{out_dir} holds results made with other settings ({state}); use the same "
                "settings to resume, --overwrite to redo everything, or another output folder"
            )
    write_atomic(state, json.dumps(settings, indent=2, sort_keys=True).encode())


@dataclass
class FileRecord:
    """One line of the manifest."""

    input: str
    output: str
    status: str = "pending"  # pending | ok | skipped | failed | interrupted
    seconds: float | None = None
    bytes: int | None = None
    error: str | None = None
    worker: str | None = None
    warnings: list[dict[str, str]] | None = None  # the model's [{"code", "message"}], if any
    variants: list[str] | None = None  # the metal variants written beside `output`


class Manifest:
    """The per-run record of every file's status, timing and error, saved as JSON."""

    def __init__(self, out_dir: Path, in_dir: Path, settings: dict[str, Any], runner: str):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        folder = out_dir / STATE_DIR_NAME
        self.path = folder / f"manifest-{stamp}.json"
        serial = 1
        while self.path.exists():  # several runs within one second each keep their manifest
            serial += 1
            self.path = folder / f"manifest-{stamp}-{serial}.json"
        self.head = {
            "in_dir": str(in_dir.resolve()),
            "out_dir": str(out_dir.resolve()),
            "settings": settings,
            "runner": runner,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "finished": None,
        }
        self.records: dict[str, FileRecord] = {}
        self._last_save = 0.0

    def add(self, record: FileRecord) -> None:
        self.records[record.input] = record

    def summary(self) -> dict[str, int]:
        counts = {"total": len(self.records)}
        for status in ("ok", "skipped", "failed", "interrupted", "pending"):
            counts[status] = sum(1 for r in self.records.values() if r.status == status)
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            **self.head,
            "summary": self.summary(),
            "files": [asdict(r) for r in self.records.values()],
        }

    def save(self, finished: bool = False, every: float = 0.0) -> None:
        """Write the manifest (atomically); with `every`, at most once per `every` seconds."""
        now = time.monotonic()
        if not finished and now - self._last_save < every:
            return
        self._last_save = now
        if finished:
            self.head["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        write_atomic(self.path, json.dumps(self.to_json(), indent=2).encode())
