"""Progress output for `batch` and `retouch`: a bar on a terminal, plain lines elsewhere.

On a terminal the bar fits the window (80 columns included): the figures keep their place,
the bar shrinks first and a long file name is shortened in the middle, where a name differs
least ("rings/2026-05 Ac…ue_0412.tif"), so the line never wraps. When the output is not a
terminal (a log file, a pipe, CI) each finished file is one plain line: no control codes, no
redrawn lines.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task
from rich.text import Text

from server.batch.store import FileRecord

ELLIPSIS = "…"
MIN_BAR, MAX_BAR = 10, 40
NAME_SHARE = 28  # columns a file name gets before the bar grows past its minimum
GAPS = 2  # rich puts one space between the three columns


def shorten_middle(text: str, width: int) -> str:
    """`text` in at most `width` characters, the middle replaced by an ellipsis: both the
    folder at the start and the number at the end of a catalog name stay readable."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    keep = width - 1
    head = (keep + 1) // 2
    tail = keep - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    seconds = int(max(0.0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


def stats_text(task: Task, compact: bool = False) -> str:
    """'12/200 5.3 img/min 0:01:02 ETA 0:35:12' (images per minute since the start);
    compact, for a narrow window: '12/200 ETA 0:35:12'."""
    total = int(task.total or 0)
    done = int(task.completed)
    elapsed = task.elapsed or 0.0
    if elapsed and done:
        rate = f"{done / elapsed * 60:.1f}"
        eta = clock((total - done) / (done / elapsed))
    else:
        rate, eta = "--", clock(None)
    count = f"{done:>{len(str(total))}}/{total}"
    if compact:
        return f"{count} ETA {eta}"
    return f"{count} {rate} img/min {clock(elapsed)} ETA {eta}"


MIN_NAME = 12  # below this the figures give up their rate and elapsed time


def layout(width: int, task: Task) -> tuple[int, str, int]:
    """(bar width, figures, name width) so that bar + figures + name + gaps <= width."""
    stats = stats_text(task)
    if width - len(stats) - GAPS - MIN_BAR < MIN_NAME:
        stats = stats_text(task, compact=True)
    room = width - len(stats) - GAPS
    bar = max(MIN_BAR, min(MAX_BAR, room - NAME_SHARE))
    return bar, stats, max(0, room - bar)


class FittedBar(BarColumn):
    """The bar, as wide as the line leaves it."""

    def __init__(self, console: Console) -> None:
        super().__init__(bar_width=MIN_BAR)
        self.console = console

    def render(self, task: Task):
        self.bar_width = layout(self.console.width, task)[0]
        return super().render(task)


class StatsColumn(ProgressColumn):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def render(self, task: Task) -> Text:
        stats = layout(self.console.width, task)[1]
        return Text(stats, style="progress.data.speed", no_wrap=True, overflow="crop")


class NameColumn(ProgressColumn):
    """The file being worked on (or just finished), shortened in the middle to fit."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def render(self, task: Task) -> Text:
        width = layout(self.console.width, task)[2]
        name = shorten_middle(str(task.fields.get("current", "")), width)
        return Text(name, style="dim", no_wrap=True, overflow="crop")


class RichProgress:
    """A `ProgressSink` drawing one bar on a terminal; failed files are printed above it."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            FittedBar(self.console),
            StatsColumn(self.console),
            NameColumn(self.console),
            console=self.console,
        )
        self.task_id = None
        self.failed = 0

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self.console.print(f"skipping {skipped} finished output(s) (resume)")
        self.progress.start()
        self.task_id = self.progress.add_task("batch", total=total, current="")

    def advance(self, record: FileRecord) -> None:
        if record.status == "failed":
            self.failed += 1
            self.console.print(
                f"[red]failed[/red] {record.input}: {record.error}", markup=True, highlight=False
            )
        self.progress.update(self.task_id, advance=1, current=record.input)

    def stop(self) -> None:
        self.progress.stop()


class LineProgress:
    """A `ProgressSink` for a log or a pipe: one line per finished file, flushed at once."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = 0
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, total: int, skipped: int) -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()
        if skipped:
            self._line(f"skipping {skipped} finished output(s) (resume)")
        self._line(f"retouching {total} file(s)")

    def advance(self, record: FileRecord) -> None:
        self.done += 1
        width = len(str(self.total))
        line = f"[{self.done:>{width}}/{self.total}] {record.status} {record.input}"
        if record.seconds is not None:
            line += f" ({record.seconds:.1f} s)"
        if record.status == "failed":
            self.failed += 1
            line += f": {record.error}"
        self._line(line)

    def stop(self) -> None:
        pass


def batch_progress(console: Console | None = None) -> RichProgress | LineProgress:
    """The bar on a terminal, plain lines otherwise (rich's own terminal test: a tty, or
    FORCE_COLOR / TTY_COMPATIBLE set; COLUMNS sets the width)."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        return RichProgress(console)
    return LineProgress(console.file)


class FileProgress:
    """`retouch`'s progress for one file at a time: the model's stages as a bar on a
    terminal ("ring.png ━━━━━━ 45% tone"), else one line per stage ("ring.png: tone 45%")."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.terminal = self.console.is_terminal
        self.progress: Progress | None = None

    def callback(self, label: str):
        """A models progress callback (stage, fraction) for the file named `label`."""
        if not self.terminal:
            last = {"stage": None}

            def lines(stage: str, fraction: float) -> None:
                if stage != last["stage"]:
                    last["stage"] = stage
                    print(f"{label}: {stage} {fraction:.0%}", file=self.console.file, flush=True)

            return lines
        self.finish()
        progress = Progress(
            _StageBar(self.console),
            _StageColumn(self.console),
            console=self.console,
            transient=True,  # the "IN -> OUT" line printed after it is what stays
        )
        task = progress.add_task("file", total=1.0, label=label, stage="")
        progress.start()
        self.progress = progress

        def bar(stage: str, fraction: float) -> None:
            progress.update(task, completed=max(0.0, min(1.0, fraction)), stage=stage)

        return bar

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


STAGE_TEXT_WIDTH = 16  # "100% background" and the like


class _StageBar(BarColumn):
    def __init__(self, console: Console) -> None:
        super().__init__(bar_width=MIN_BAR)
        self.console = console

    def render(self, task: Task):
        room = self.console.width - 1 - STAGE_TEXT_WIDTH
        self.bar_width = max(MIN_BAR, min(MAX_BAR, room - NAME_SHARE))
        return super().render(task)


class _StageColumn(ProgressColumn):
    """'45% tone  ring.png', the name shortened to what the line has left."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def render(self, task: Task) -> Text:
        room = self.console.width - 1 - STAGE_TEXT_WIDTH
        bar = max(MIN_BAR, min(MAX_BAR, room - NAME_SHARE))
        stage = f"{task.completed:>4.0%} {task.fields.get('stage', '')}"
        stage = shorten_middle(stage, STAGE_TEXT_WIDTH).ljust(STAGE_TEXT_WIDTH)
        name_room = self.console.width - bar - 1 - STAGE_TEXT_WIDTH - 1
        name = shorten_middle(str(task.fields.get("label", "")), name_room)
        return Text(f"{stage} {name}".rstrip(), no_wrap=True, overflow="crop")
