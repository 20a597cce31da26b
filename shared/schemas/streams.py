"""What live streams carry (SSE and WebSocket): typed frames, not loose dictionaries."""

from dataclasses import dataclass
from typing import Any

from shared.schemas.events import JobEvent
from shared.schemas.views import JobView

__all__ = ["JobSince", "StreamItem"]


@dataclass(frozen=True)
class JobSince:
    """A job as one read finds it: its state (with the result once succeeded), the events
    applied after a given number (oldest first, the result on `succeeded`), and the
    position in its log to read on from."""

    job: JobView
    events: list[JobEvent]
    position: int


@dataclass(frozen=True)
class StreamItem:
    """One frame: `event` is `snapshot` (a job's state), an event type, or `job` (a job's
    state without its result, on a tenant's feed); `id` its sequence number."""

    event: str
    id: int
    data: JobView | JobEvent

    @classmethod
    def snapshot(cls, job: JobView) -> "StreamItem":
        return cls("snapshot", job.seq, job)

    @classmethod
    def of(cls, event: JobEvent) -> "StreamItem":
        return cls(event.type, event.seq, event)

    @classmethod
    def changed(cls, job: JobView) -> "StreamItem":
        return cls("job", job.seq, job)

    def payload(self) -> dict[str, Any]:
        return self.data.model_dump(mode="json", exclude={"result"} if self.event == "job" else None)
