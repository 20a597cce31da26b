"""How the CLI shows jobs: tables, a live progress bar, results."""

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.client import JobEvent

__all__ = ["PipelineProgress", "ProgressView", "job_table", "print_json"]

_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan", "queued": "dim"}


def _age(created_at: str) -> str:
    seconds = int((datetime.now(UTC) - datetime.fromisoformat(created_at)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def job_table(jobs: list[dict[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title)
    for column in ("id", "operation", "status", "progress", "attempts", "age", "message"):
        table.add_column(column, no_wrap=column in ("id", "status"))
    for job in jobs:
        status = job["status"]
        progress = job["progress"]
        table.add_row(
            job["id"],
            job["operation"],
            f"[{_STYLE.get(status, '')}]{status}[/]",
            f"{progress['fraction']:.0%}",
            str(job["attempts"]),
            _age(job["created_at"]),
            (job.get("error") or {}).get("message") or progress.get("message", ""),
        )
    return table


def print_json(console: Console, data: Any) -> None:
    console.print_json(json.dumps(data))


class ProgressView:
    """A progress bar fed with a job's events, on stderr so stdout keeps only the result."""

    def __init__(self, console: Console, job_id: str, operation: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.fields[operation]}[/]"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]} {task.description}"),
            console=console,
        )
        self._task = self._progress.add_task("", total=1.0, operation=operation, status="queued")
        self.job_id = job_id

    def __enter__(self) -> "ProgressView":
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def show(self, event: JobEvent) -> None:
        data = event.data
        fraction: float | None = None
        message = ""
        if event.type == "snapshot":
            fraction, message = data["progress"]["fraction"], data["progress"]["message"]
        elif event.type == "progress":
            fraction, message = data["fraction"], data["message"]
        elif event.type == "succeeded":
            fraction = 1.0
        elif event.type in ("failed", "retrying"):
            message = f"{data['error']['code']}: {data['error']['message']}"
        self._progress.update(self._task, description=message, status=event.status)
        if fraction is not None:
            self._progress.update(self._task, completed=fraction)


class PipelineProgress:
    """One bar for a pipeline and one per step, fed with the pipeline's view (its `steps`)."""

    def __init__(self, console: Console, job_id: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.fields[name]:<12}[/]"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]} {task.description}"),
            console=console,
        )
        self._pipeline = self._progress.add_task("", total=1.0, name="pipeline", status="queued")
        self._steps: dict[str, Any] = {}
        self.job_id = job_id

    def __enter__(self) -> "PipelineProgress":
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def show(self, job: dict[str, Any]) -> None:
        error = job.get("error") or {}
        message = f"{error['code']}: {error['message']}" if error else job["progress"]["message"]
        self._progress.update(
            self._pipeline, completed=job["progress"]["fraction"], status=job["status"], description=message
        )
        for step in job.get("steps") or ():
            task = self._steps.get(step["id"])
            if task is None:
                name = f"  {step['id']}"
                task = self._steps[step["id"]] = self._progress.add_task("", total=1.0, name=name, status="")
            status = step["status"]
            fraction = 1.0 if status == "succeeded" else step["progress"]["fraction"]
            self._progress.update(
                task,
                completed=fraction,
                status=f"[{_STYLE.get(status, '')}]{status}[/]",
                description=f"{step['operation']} {step['progress']['message']}".strip(),
            )

    @property
    def bars(self) -> dict[str, float]:
        """Each bar's completed fraction by name (what the tests read)."""
        return {str(t.fields["name"]).strip(): float(t.completed) for t in self._progress.tasks}
