import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import StreamingResponse

from services.api.deps import (
    ControlDep,
    FilesDep,
    HubDep,
    JobIdDep,
    LedgerDep,
    PublisherDep,
    ResultsDep,
    SettingsDep,
    StoreDep,
    TenantDep,
)
from services.api.errors import unavailable
from services.api.job_events import cancel_queued, record_queued
from services.api.quotas.checks import SUBMIT_LIMITS
from services.api.responses import created, error_responses, field_error, link
from services.api.results import job_body, result_body
from services.api.streaming import UpdateHub
from services.api.submission import (
    SubmitJob,
    check_input_file,
    fingerprint,
    idempotency_headers,
    new_job,
)
from shared.messaging import PublishFailed
from shared.pipelines import pipeline_steps, with_steps
from shared.readmodel import JobStore
from shared.schemas import JobPage, JobRef, JobStatus, JobTimeline, JobView, ProgressView
from shared.telemetry.metrics import PUBLISH_FAILURES

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=error_responses(401, 503))
log = logging.getLogger(__name__)

NOT_FOUND = "no such job"


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a job",
    dependencies=SUBMIT_LIMITS,
    responses={
        202: created(
            "job",
            GetJob=link("GET", "/v1/jobs/{job_id}", job_id="$response.body#/id"),
            FollowJob=link("GET", "/v1/jobs/{job_id}/events", job_id="$response.body#/id"),
            CancelJob=link("POST", "/v1/jobs/{job_id}/cancel", job_id="$response.body#/id"),
        ),
        **error_responses(
            400,
            413,
            meaning={
                429: "The tenant's submission rate (with `Retry-After`) or active-jobs limit is reached",
                404: "The input names a file the caller does not have",
                409: "A submission with this Idempotency-Key is still in progress",
                503: "The broker did not accept the job (nothing will run), or Redis is unavailable",
            },
        ),
    },
)
async def submit_job(
    body: SubmitJob,
    tenant: TenantDep,
    store: StoreDep,
    ledger: LedgerDep,
    publisher: PublisherDep,
    hub: HubDep,
    settings: SettingsDep,
    files: FilesDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=255, description="Same key and body within 24 h: same job, no new run."),
    ] = None,
) -> JobView:
    command, queued = await new_job(body, tenant)
    await check_input_file(command, files)
    headers: dict[str, str | int] = {}
    if idempotency_key:
        digest = fingerprint(body)
        headers = idempotency_headers(idempotency_key, digest, settings.idempotency_ttl)
        seen = await ledger.remember(
            tenant, idempotency_key, command.job_id, digest, settings.idempotency_ttl
        )
        if seen is not None:
            job_id, seen_digest = seen
            if seen_digest != digest:
                raise field_error(
                    ("header", "idempotency-key"),
                    "idempotency_key_reused",
                    "Idempotency-Key was already used with a different body",
                    idempotency_key,
                )
            existing = await _wait_for_record(store, hub, tenant, job_id, settings.publish_timeout)
            if existing is None:
                raise HTTPException(409, "a submission with this Idempotency-Key is still in progress")
            response.headers["Location"] = f"/v1/jobs/{job_id}"
            return existing
    try:
        await publisher.publish_command(command, headers=headers)
    except PublishFailed as exc:
        PUBLISH_FAILURES.labels(exc.reason).inc()
        if idempotency_key:
            await ledger.forget(tenant, idempotency_key)
        raise unavailable("the broker", exc, f"job not accepted: {exc.reason}") from exc
    # The broker has the job, so it runs whatever happens next. Recording it only now
    # means a crash here can never leave a job "queued" that nobody will run.
    await record_queued(store, queued)
    response.headers["Location"] = f"/v1/jobs/{command.job_id}"
    return JobView(
        id=command.job_id,
        operation=command.operation,
        status=JobStatus.queued,
        progress=ProgressView(fraction=0.0),
        attempts=0,
        created_at=command.created_at,
        seq=queued.seq,
    )


async def _wait_for_record(
    store: JobStore, hub: UpdateHub, tenant: str, job_id: str, within: float
) -> JobView | None:
    """A concurrent submission with the same Idempotency-Key is being published: wait for
    its record (woken by the update channel, no polling) rather than answer 409, so that
    identical retries all get the one job."""
    deadline = asyncio.get_running_loop().time() + within
    with hub.watch(job_id) as wake:
        while True:
            wake.clear()
            view = await store.get(tenant, job_id)
            remaining = deadline - asyncio.get_running_loop().time()
            if view is not None or remaining <= 0:
                return view
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), remaining)


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a job",
    responses=error_responses(meaning={404: "No such job", 409: "The job has already ended"}),
)
async def cancel_job(
    job_id: JobIdDep,
    tenant: TenantDep,
    store: StoreDep,
    control: ControlDep,
    publisher: PublisherDep,
    settings: SettingsDep,
) -> JobView:
    """A queued job is cancelled at once and never starts; a running one stops at its next
    step (within about a second) and ends `cancelled`."""
    view = await store.get(tenant, job_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    if view.status.terminal:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the job has already ended ({view.status.value})")
    await control.request_cancel(job_id, settings.cancel_ttl)
    if view.operation == "pipeline":  # its steps too, also when its driver is not there to do it
        for step in await pipeline_steps(store, tenant, job_id) or ():
            await control.request_cancel(step.job_id, settings.cancel_ttl)
    if view.status == JobStatus.queued:
        job = JobRef(job_id, tenant, view.operation, max(view.attempts, 1), view.created_at)
        await cancel_queued(
            publisher, store, control, JobTimeline(job, since="queued", after_seq=view.seq).cancelled()
        )
    return await with_steps(store, tenant, await store.get(tenant, job_id) or view)


@router.get("", summary="List the caller's jobs, newest first")
async def list_jobs(
    tenant: TenantDep,
    store: StoreDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    operation: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobPage:
    items, next_cursor = await store.list(
        tenant, limit=limit, cursor=cursor, status=status_, operation=operation
    )
    return JobPage(items=items, next_cursor=next_cursor)


@router.get(
    "/{job_id}",
    summary="A job's status, progress, result or error",
    response_model=JobView,
    responses=error_responses(
        meaning={404: "No such job", 410: "The result is no longer in the file storage"}
    ),
)
async def get_job(
    job_id: JobIdDep, tenant: TenantDep, store: StoreDep, results: ResultsDep
) -> JobView | StreamingResponse:
    view = await store.get(tenant, job_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    view = await with_steps(store, tenant, view)
    return await job_body(view, results)  # a result kept by reference: streamed from storage


@router.get(
    "/{job_id}/result",
    summary="A succeeded job's result alone",
    response_model=dict[str, Any],
    responses=error_responses(
        meaning={
            404: "No such job",
            409: "The job has not succeeded (yet)",
            410: "The result is no longer in the file storage",
        }
    ),
)
async def get_result(job_id: JobIdDep, tenant: TenantDep, store: StoreDep, results: ResultsDep) -> Response:
    """The same JSON as the job's `result`, however large (large results are streamed from
    the file storage)."""
    view = await store.get(tenant, job_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    body = await result_body(view, results)
    if isinstance(body, bytes):
        return Response(body, media_type="application/json")
    return body
