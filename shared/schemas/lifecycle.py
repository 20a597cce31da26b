"""The life of one job: every event it can have, how each is numbered, and which moves
between states are allowed. Every writer (the API, the workers, the projector) makes a
job's events here and nowhere else.

Numbers are `attempt * SEQ_PER_ATTEMPT + step`: `queued` is step 0 of the first attempt,
an attempt's own events count up from step 1, and the projector's verdict on a command
the broker dead-lettered takes the attempt's last number. So a retry's events sort after
the previous attempt's, and a redelivered run of an attempt repeats the same numbers (its
already-applied events are no-ops for the read model).

Moves: queued -> started -> progress* -> succeeded | failed | cancelled; `retrying` ends
an attempt and leads to the next attempt's `started`; a job that has not started yet
(queued or waiting to retry) may still fail or be cancelled. An attempt that ends soon
after it starts publishes no `started`: its `succeeded` or `failed` carries `started_at`
and follows `queued` (or `retrying`) directly. Terminal states absorb.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import ValidationError

from shared.schemas.events import (
    SEQ_PER_ATTEMPT,
    Cancelled,
    Failed,
    JobError,
    Progress,
    Queued,
    Retrying,
    Started,
    Succeeded,
)
from shared.schemas.results import ResultRef

__all__ = [
    "MOVES",
    "TERMINAL_STATES",
    "InvalidMove",
    "JobRef",
    "JobStatus",
    "JobTimeline",
    "failed_named_job",
    "is_terminal",
    "last_seq",
    "seq_of",
    "status_after",
]


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES: frozenset[str] = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})
"""Job statuses, and the event types that set them (same names), after which nothing changes."""

_NOT_STARTED = frozenset({"started", "succeeded", "failed", "cancelled"})
_RUNNING = frozenset({"progress", "retrying", "succeeded", "failed", "cancelled"})
MOVES: Mapping[str | None, frozenset[str]] = {
    None: frozenset({"queued"}),
    "queued": _NOT_STARTED,
    "retrying": _NOT_STARTED,
    "started": _RUNNING,
    "progress": _RUNNING,
    **{state: frozenset() for state in TERMINAL_STATES},
}
"""Last event of a job (None: none yet) -> the event types that may follow it."""


_STATUS_AFTER = {
    "queued": JobStatus.queued,
    "started": JobStatus.running,
    "progress": JobStatus.running,
    "retrying": JobStatus.queued,  # waiting for its next attempt
    "succeeded": JobStatus.succeeded,
    "failed": JobStatus.failed,
    "cancelled": JobStatus.cancelled,
}


def status_after(event_type: str) -> JobStatus:
    """The job's status once an event of this type is applied."""
    return _STATUS_AFTER[event_type]


class InvalidMove(ValueError):
    """An event that may not follow the job's last one (a bug in the writer, not bad input)."""


def is_terminal(state: str) -> bool:
    """Whether a job status (or the event type that sets it) is final."""
    return state in TERMINAL_STATES


def seq_of(attempt: int, step: int) -> int:
    return attempt * SEQ_PER_ATTEMPT + step


def last_seq(attempt: int) -> int:
    """The highest number of an attempt: after every event the attempt itself publishes."""
    return seq_of(attempt + 1, 0) - 1


class _Job(Protocol):
    @property
    def job_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def created_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class JobRef:
    """A job known without its command (e.g. from the read model)."""

    job_id: str
    tenant: str
    operation: str
    attempt: int = 1
    created_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class JobTimeline:
    """The events one writer makes for one attempt of a job (a `JobCommand` or a `JobRef`).

    `since` is the job's last event as this writer finds it: a worker picks up a job that
    is `queued` (first attempt) or `retrying` (a later one); the API submitting it starts
    from nothing (`JobTimeline.new`). `after_seq` numbers the next event after a known one
    instead of from the attempt's first step (cancelling a job that waits in a queue)."""

    def __init__(self, job: _Job, *, since: str | None = "", after_seq: int | None = None) -> None:
        self.job = job
        self.state: str | None = since if since != "" else ("queued" if job.attempt == 1 else "retrying")
        self._next_seq = after_seq + 1 if after_seq is not None else seq_of(job.attempt, 1)

    @classmethod
    def new(cls, job: _Job) -> "JobTimeline":
        """A job just submitted: its first event is `queued`."""
        return cls(job, since=None)

    def _envelope(self, event_type: str, seq: int | None = None) -> dict[str, Any]:
        if event_type not in MOVES[self.state]:
            raise InvalidMove(f"job {self.job.job_id}: {event_type} may not follow {self.state or 'nothing'}")
        self.state = event_type
        if seq is None:
            seq, self._next_seq = self._next_seq, self._next_seq + 1
        j = self.job
        return {
            "job_id": j.job_id,
            "tenant": j.tenant,
            "operation": j.operation,
            "attempt": j.attempt,
            "job_created_at": j.created_at,
            "seq": seq,
            "at": _now(),
        }

    def queued(self) -> Queued:
        envelope = self._envelope("queued", seq_of(self.job.attempt, 0))
        return Queued(**{**envelope, "at": self.job.created_at or envelope["at"]})

    def started(self, at: datetime | None = None) -> Started:
        """`at`: when it started, if that was earlier than now (a deferred `started`)."""
        envelope = self._envelope("started")
        return Started(**{**envelope, "at": at or envelope["at"]})

    def progress(self, fraction: float, message: str = "") -> Progress:
        return Progress(**self._envelope("progress"), fraction=min(max(fraction, 0.0), 1.0), message=message)

    def retrying(self, next_attempt_at: datetime, code: str, message: str) -> Retrying:
        return Retrying(
            **self._envelope("retrying"),
            next_attempt_at=next_attempt_at,
            error=JobError(code=code, message=message),
        )

    def succeeded(
        self,
        result: dict[str, Any] | None = None,
        *,
        ref: ResultRef | None = None,
        started_at: datetime | None = None,
    ) -> Succeeded:
        """Inline (`result`, version 1) or by reference (`ref`, version 2): exactly one.
        `started_at`: the attempt published no `started` (this event stands for both)."""
        if started_at is None and self.state in ("queued", "retrying"):
            reason = f"succeeded without started_at may not follow {self.state}"
            raise InvalidMove(f"job {self.job.job_id}: {reason}")
        if ref is not None:
            return Succeeded(
                **self._envelope("succeeded"), schema_version="2", result_ref=ref, started_at=started_at
            )
        return Succeeded(**self._envelope("succeeded"), result=result, started_at=started_at)

    def failed(self, code: str, message: str, *, started_at: datetime | None = None) -> Failed:
        error = JobError(code=code, message=message)
        return Failed(**self._envelope("failed"), error=error, started_at=started_at)

    def cancelled(self) -> Cancelled:
        return Cancelled(**self._envelope("cancelled"))

    def dead_lettered(self, code: str, message: str) -> Failed:
        """`failed` for a command the broker dead-lettered: the attempt's last number, so it
        sorts after whatever the attempt published (a terminal event is renumbered anyway)."""
        return Failed(
            **self._envelope("failed", last_seq(self.job.attempt)), error=JobError(code=code, message=message)
        )


def failed_named_job(raw: Mapping[str, Any], routing_key: str, code: str, reason: str) -> Failed | None:
    """`failed` for the job a rejected message names, known only by its raw JSON object;
    None when it names no usable job (the dead letter is then the only record)."""
    job_id, tenant = raw.get("job_id"), raw.get("tenant")
    if not (isinstance(job_id, str) and isinstance(tenant, str) and job_id and tenant):
        return None
    attempt = raw.get("attempt")
    attempt = attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt > 0 else 1
    operation = str(raw.get("operation") or routing_key or "unknown")
    try:
        ref = JobRef(job_id, tenant, operation, attempt)
        # step 0: before anything the attempt could have published
        return Failed(
            **JobTimeline(ref)._envelope("failed", seq_of(attempt, 0)),
            error=JobError(code=code, message=reason),
        )
    except ValidationError:
        return None
