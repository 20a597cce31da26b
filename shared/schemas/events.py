"""Job events, published to `job-events` by the API and the workers.

Each event carries a per-job sequence number. The read model applies an event
only when its number is higher than the last applied one, and terminal events are
absorbing, so duplicates, redeliveries and reordering never move a job backwards.
Numbers are `attempt * SEQ_PER_ATTEMPT + step`: a retry's events always sort after
the previous attempt's, and a redelivered run of the same attempt repeats the same
numbers (its already-applied events are no-ops).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "SEQ_PER_ATTEMPT",
    "TERMINAL_EVENT_TYPES",
    "Cancelled",
    "Failed",
    "JobError",
    "JobEvent",
    "Progress",
    "Queued",
    "Retrying",
    "Started",
    "Succeeded",
    "parse_event",
]

SEQ_PER_ATTEMPT = 1_000_000


class JobError(BaseModel):
    code: str = Field(description="Stable, machine-readable, e.g. `invalid_input`.")
    message: str = Field(description="For humans; may change between releases.")


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: Literal["1"] = "1"
    job_id: str = Field(min_length=1, max_length=64)
    tenant: str = Field(min_length=1, max_length=128)
    operation: str = Field(min_length=1, max_length=128)
    attempt: int = Field(default=1, ge=1)
    seq: int = Field(ge=0, description="Per-job sequence number; see the module notes.")
    at: datetime = Field(description="When the event happened (UTC).")
    job_created_at: datetime | None = Field(
        default=None, description="The job's creation time, so a first-seen job gets a record."
    )


class Queued(_Event):
    type: Literal["queued"] = "queued"


class Started(_Event):
    type: Literal["started"] = "started"


class Progress(_Event):
    type: Literal["progress"] = "progress"
    fraction: float = Field(ge=0.0, le=1.0)
    message: str = ""


class Retrying(_Event):
    type: Literal["retrying"] = "retrying"
    next_attempt_at: datetime
    error: JobError


class Succeeded(_Event):
    type: Literal["succeeded"] = "succeeded"
    result: dict[str, Any]


class Failed(_Event):
    type: Literal["failed"] = "failed"
    error: JobError


class Cancelled(_Event):
    type: Literal["cancelled"] = "cancelled"


JobEvent = Annotated[
    Queued | Started | Progress | Retrying | Succeeded | Failed | Cancelled,
    Field(discriminator="type"),
]
TERMINAL_EVENT_TYPES = frozenset({"succeeded", "failed", "cancelled"})

_adapter: TypeAdapter[JobEvent] = TypeAdapter(JobEvent)


def parse_event(raw: bytes | str) -> JobEvent:
    """Parse one event from JSON; raises `pydantic.ValidationError` when it is not one."""
    return _adapter.validate_json(raw)
