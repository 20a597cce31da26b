import logging
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from redis.exceptions import RedisError

from services.api.deps import FilesDep, PublisherDep, SettingsDep, StoreDep, TenantDep
from services.api.submission import SubmitJob, check_input_file, fingerprint, new_job
from shared.messaging import PublishFailed
from shared.schemas import JobPage, JobStatus, JobView, ProgressView

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = logging.getLogger(__name__)

NOT_FOUND = "no such job"


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a job",
    responses={
        401: {"description": "Missing or unknown API key"},
        404: {"description": "The input names a file the caller does not have"},
        413: {"description": "Body over the size limit"},
        422: {"description": "Unknown operation or invalid input; names the field"},
        503: {"description": "The broker did not accept the job (nothing will run) or Redis is down"},
    },
)
async def submit_job(
    body: SubmitJob,
    tenant: TenantDep,
    store: StoreDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    files: FilesDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=255, description="Same key and body within 24 h: same job, no new run."),
    ] = None,
) -> JobView:
    command, queued = new_job(body, tenant)
    await check_input_file(command, files)
    if idempotency_key:
        digest = fingerprint(body)
        seen = await store.remember_submission(
            tenant, idempotency_key, command.job_id, digest, settings.idempotency_ttl
        )
        if seen is not None:
            job_id, seen_digest = seen
            if seen_digest != digest:
                raise HTTPException(422, "Idempotency-Key was already used with a different body")
            existing = await store.get(tenant, job_id)
            if existing is None:
                raise HTTPException(409, "a submission with this Idempotency-Key is in progress")
            response.headers["Location"] = f"/v1/jobs/{job_id}"
            return existing
    try:
        await publisher.publish_command(command)
    except PublishFailed as exc:
        if idempotency_key:
            await store.forget_submission(tenant, idempotency_key)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"job not accepted, try again later ({exc.reason}: {exc.detail})",
            headers={"Retry-After": "5"},
        ) from exc
    # The broker has the job, so it runs whatever happens next. Recording it only now
    # means a crash here can never leave a job "queued" that nobody will run; if Redis
    # misses this write, the worker's first event creates the record.
    try:
        await store.apply(queued)
    except RedisError as exc:
        log.warning("job %s accepted but not yet recorded: %s", command.job_id, exc)
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


@router.get("/{job_id}", summary="A job's status, progress, result or error")
async def get_job(job_id: str, tenant: TenantDep, store: StoreDep) -> JobView:
    view = await store.get(tenant, job_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return view
