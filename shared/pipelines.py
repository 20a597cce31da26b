"""A pipeline's steps as the API shows them: the list its driver saved (services/pipeline) and
each step's job in the read model."""

import json
from typing import Any

from pydantic import BaseModel

from shared import redis_keys as keys
from shared.readmodel import JobStore
from shared.schemas import JobView, ProgressView
from shared.schemas.views import StepView

__all__ = ["StepRef", "pipeline_steps", "with_steps"]


class StepRef(BaseModel):
    id: str
    job_id: str
    operation: str
    after: str | None = None


async def pipeline_steps(store: JobStore, tenant: str, pipeline_id: str) -> list[StepRef] | None:
    """The pipeline's steps; None before its driver has started it (or for another tenant's)."""
    raw = await store.redis.get(keys.pipeline_key(pipeline_id))
    if raw is None:
        return None
    saved: dict[str, Any] = json.loads(raw)
    if saved.get("tenant") != tenant:
        return None
    return [StepRef.model_validate(step) for step in saved.get("steps", [])]


async def with_steps(store: JobStore, tenant: str, view: JobView) -> JobView:
    """`view` with its steps listed, when it is a pipeline that has started them."""
    if view.operation != "pipeline":
        return view
    refs = await pipeline_steps(store, tenant, view.id)
    if refs is None:
        return view
    jobs = {job.id: job for job in await store.views(tenant, [r.job_id for r in refs])}
    steps = []
    for ref in refs:
        job = jobs.get(ref.job_id)
        steps.append(
            StepView(
                **ref.model_dump(),
                status=job.status.value if job is not None else "pending",
                progress=job.progress if job is not None else ProgressView(fraction=0.0),
            )
        )
    return view.model_copy(update={"steps": steps})
