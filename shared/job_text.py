"""The text of a finished job, as an operation's text source (`{"job_id": ...}`): the `text` of
a succeeded job of the same tenant (OCR's result has one). Read by the NER and LLM workers."""

from shared.readmodel import JobStore
from shared.schemas import JobStatus
from shared.worker import JobFailure

__all__ = ["text_of_job"]


async def text_of_job(jobs: JobStore, tenant: str, job_id: str) -> str:
    view = await jobs.get(tenant, job_id)
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
