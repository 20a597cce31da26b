"""Where an operation's text comes from: the input itself, or a finished job's result."""

from shared.readmodel import JobStore
from shared.schemas import JobStatus
from shared.schemas.llm import ExtractInput, SummarizeInput
from shared.worker import JobFailure

__all__ = ["TextSource"]


class TextSource:
    def __init__(self, jobs: JobStore | None) -> None:
        self._jobs = jobs

    async def text_of(self, job: SummarizeInput | ExtractInput, tenant: str) -> str:
        if job.text is not None:
            return job.text
        if job.job_id is not None:
            return await self._job_text(tenant, job.job_id)
        # Uploads are stored by the storage service (issue 3), which this worker cannot read yet.
        raise JobFailure(
            "file_input_unavailable",
            "file inputs are not supported by this worker yet; pass `text` or `job_id`",
        )

    async def _job_text(self, tenant: str, job_id: str) -> str:
        if self._jobs is None:
            raise JobFailure("source_job_unavailable", "this worker has no read model to read jobs from")
        view = await self._jobs.get(tenant, job_id)
        if view is None:  # another tenant's job looks exactly like a missing one
            raise JobFailure("source_job_not_found", f"no job {job_id!r} for this tenant")
        if view.status != JobStatus.succeeded:
            raise JobFailure(
                "source_job_not_succeeded",
                f"job {job_id} is {view.status.value}; only a succeeded job's text can be used",
            )
        text = (view.result or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            raise JobFailure(
                "source_job_has_no_text",
                f"job {job_id} ({view.operation}) has no `text` in its result",
            )
        return text
