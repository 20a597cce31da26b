"""What the HTTP API returns: the read model of a job."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.schemas.events import JobError
from shared.schemas.lifecycle import JobStatus
from shared.schemas.pipeline import StepStatus
from shared.schemas.results import ResultRef

__all__ = ["JobPage", "JobStatus", "JobView", "ProgressView", "StepView"]


class ProgressView(BaseModel):
    fraction: float = Field(ge=0.0, le=1.0)
    message: str = ""


class StepView(BaseModel):
    """One step of a pipeline, as the pipeline's view lists it (its own job has the rest)."""

    id: str
    job_id: str
    operation: str
    after: str | None = None
    status: StepStatus = Field(description="`pending`: not started (yet).")
    progress: ProgressView


class JobView(BaseModel):
    id: str
    operation: str
    status: JobStatus
    progress: ProgressView
    attempts: int = Field(description="Attempts started so far (0 while first queued).")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = Field(
        default=None, description="Set when succeeded; null in lists (read the job for it)."
    )
    result_ref: ResultRef | None = Field(
        default=None,
        description="Streams only (SSE, WebSocket): a succeeded job's result too large to carry "
        "(over `RESULT_INLINE_MAX_BYTES`), with `result` null; `GET /v1/jobs/{id}` and "
        "`GET /v1/jobs/{id}/result` always serve the result itself and this as null.",
    )
    error: JobError | None = Field(default=None, description="Set when failed.")
    seq: int = Field(description="Sequence number of the last applied event.")
    steps: list[StepView] | None = Field(
        default=None,
        description="A pipeline's steps, once its driver has started it; null for other jobs and in lists.",
    )


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")
