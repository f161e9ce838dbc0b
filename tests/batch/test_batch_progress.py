"""The batch and retouch progress output: fits the terminal's width, plain lines elsewhere."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from server.batch.progress import (
    FileProgress,
    LineProgress,
    RichProgress,
    batch_progress,
    shorten_middle,
)
from server.batch.store import FileRecord

LONG = "rings/2026-05 Acme spring campaign/solitaire_platinum_very_long_catalogue_name_0412.tif"
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class FakeTerminal(io.StringIO):
    """What rich sees as a terminal: a stream that says it is a tty."""

    def isatty(self) -> bool:
        return True


def screen_lines(written: str) -> list[str]:
    """The text rows a terminal shows: control codes removed, split at \\r and \\n."""
    return [row for row in re.split(r"[\r\n]", CONTROL.sub("", written)) if row.strip()]


def test_shorten_middle_keeps_both_ends():
    assert shorten_middle("short.png", 20) == "short.png"
    cut = shorten_middle(LONG, 30)
    assert len(cut) == 30 and cut.startswith("rings/2026-05") and cut.endswith("_0412.tif")
    assert "…" in cut
    assert shorten_middle(LONG, 1) == "…" and shorten_middle(LONG, 0) == ""


@pytest.mark.parametrize("columns", [80, 60, 120])
def test_the_bar_fits_the_terminal_and_shortens_long_names(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    terminal = FakeTerminal()
    sink = batch_progress(Console(file=terminal))  # the console as the CLI makes it
    assert isinstance(sink, RichProgress)
    sink.start(1234, 0)
    for _ in range(3):
        sink.advance(FileRecord(input=LONG, output="x.tif", status="ok", seconds=0.5))
    sink.stop()  # draws the last state
    rows = screen_lines(terminal.getvalue())
    assert rows, terminal.getvalue()
    for row in rows:
        assert len(row) <= columns, row
    last = rows[-1]
    assert "3/1234" in last and "ETA" in last
    assert "…" in last and "rings/" in last and last.rstrip().endswith("_0412.tif")


def test_failures_are_printed_above_the_bar(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    terminal = FakeTerminal()
    sink = RichProgress(Console(file=terminal))
    sink.start(2, 1)
    sink.advance(FileRecord(input="rings/broken.png", output="x", status="failed", error="bad"))
    sink.stop()
    text = CONTROL.sub("", terminal.getvalue())
    assert "skipping 1 finished output(s) (resume)" in text
    assert "failed rings/broken.png: bad" in text and sink.failed == 1


def test_not_a_terminal_gets_one_plain_line_per_file():
    log = io.StringIO()
    sink = batch_progress(Console(file=log))
    assert isinstance(sink, LineProgress)
    sink.start(2, 3)
    sink.advance(FileRecord(input=LONG, output="x", status="ok", seconds=1.25))
    sink.advance(FileRecord(input="b.png", output="y", status="failed", error="truncated"))
    sink.stop()
    assert log.getvalue().splitlines() == [
        "skipping 3 finished output(s) (resume)",
        "retouching 2 file(s)",
        f"[1/2] ok {LONG} (1.2 s)",  # a log keeps the whole name
        "[2/2] failed b.png: truncated",
    ]


def test_retouch_stage_bar_fits_and_plain_stages_elsewhere(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    terminal = FakeTerminal()
    bars = FileProgress(Console(file=terminal))
    update = bars.callback(LONG)
    update("background", 0.45)
    rows_while = screen_lines(
        _render(bars)
    )  # what the bar shows mid-run (the bar itself is transient)
    bars.finish()
    assert rows_while and all(len(row) <= 80 for row in rows_while)
    assert "45% background" in rows_while[-1] and "…" in rows_while[-1]
    log = io.StringIO()
    plain = FileProgress(Console(file=log))
    update = plain.callback("ring.png")
    update("analyse", 0.0)
    update("analyse", 0.5)
    update("tone", 0.8)
    assert log.getvalue().splitlines() == ["ring.png: analyse 0%", "ring.png: tone 80%"]


def _render(bars: FileProgress) -> str:
    assert bars.progress is not None
    out = io.StringIO()
    Console(file=out, width=bars.console.width, color_system=None).print(
        bars.progress.make_tasks_table(bars.progress.tasks)
    )
    return out.getvalue()


def test_the_batch_command_draws_the_fitted_bar_on_a_terminal(tmp_path, catalog, monkeypatch):
    """`jewel-retouch batch` itself, its stderr a (fake) 80-column terminal."""
    import sys

    from PIL import Image

    from server.cli import main

    in_dir, files = catalog
    long_name = (
        in_dir
        / "rings"
        / ("2026-05 Acme spring campaign solitaire platinum very long catalogue name 0412.png")
    )
    Image.open(files["hero.png"]).save(long_name)
    monkeypatch.setenv("COLUMNS", "80")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = main(
        ["batch", str(in_dir), str(tmp_path / "out"), "--model", "server.testing:identity_model"]
    )
    assert code == 1  # rings/broken.png
    rows = screen_lines(terminal.getvalue())
    bar_rows = [row for row in rows if "/7 " in row and "ETA" in row]
    assert bar_rows, rows
    assert all(len(row) <= 80 for row in bar_rows)
    assert "\x1b[" in terminal.getvalue()  # drawn as a live bar, not plain lines
    assert not any(row.startswith("[1/7]") for row in rows)
