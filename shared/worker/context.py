"""The job context: the one object domain code gets from the platform."""

from datetime import datetime

from pydantic import BaseModel

from shared.schemas import JobCommand, JobTimeline, ResultRef
from shared.worker.ports import EventSink, ResultSink

__all__ = ["JobContext"]


class JobContext:
    """What domain code sees of the platform while it runs a job, and how the runner
    reports the job's events (made by its timeline, shared/schemas/lifecycle.py)."""

    def __init__(
        self, command: JobCommand, events: EventSink, *, since: str = "", results: ResultSink | None = None
    ) -> None:
        """`since`: the job's last event, when not the one the command implies (a domain test
        starts from `started`, as the runner's handler does). `results`: where a large result
        goes (None: every result inline)."""
        self.command = command
        self._events = events
        self._results = results
        self._timeline = JobTimeline(command, since=since)

    async def progress(self, fraction: float, message: str) -> None:
        await self._events.publish_event(self._timeline.progress(fraction, message))

    async def started(self) -> None:
        await self._events.publish_event(self._timeline.started())

    async def succeeded(self, result: BaseModel) -> None:
        if self._results is None:
            event = self._timeline.succeeded(result.model_dump(mode="json"))
        else:
            kept = await self._results.keep(self.command, result)
            if isinstance(kept, ResultRef):
                event = self._timeline.succeeded(ref=kept)
            else:
                event = self._timeline.succeeded(kept)
        await self._events.publish_event(event)

    async def failed(self, code: str, message: str) -> None:
        await self._events.publish_event(self._timeline.failed(code, message))

    async def retrying(self, next_attempt_at: datetime, code: str, message: str) -> None:
        await self._events.publish_event(self._timeline.retrying(next_attempt_at, code, message))

    async def cancelled(self) -> None:
        await self._events.publish_event(self._timeline.cancelled())
