"""The batch progress bar (rich): files done / total, images per minute, elapsed, ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from server.batch.store import FileRecord


class RateColumn(ProgressColumn):
    """Images per minute since the start of the run."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if not elapsed or not task.completed:
            return Text("-- img/min", style="progress.data.speed")
        return Text(f"{task.completed / elapsed * 60:.1f} img/min", style="progress.data.speed")


class RichProgress:
    """A `ProgressSink` drawing one bar; failed files are printed above it as they happen."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]retouching"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}", style="dim"),
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
            self.console.print(f"[red]failed[/red] {record.input}: {record.error}")
        self.progress.update(self.task_id, advance=1, current=record.input)

    def stop(self) -> None:
        self.progress.stop()
