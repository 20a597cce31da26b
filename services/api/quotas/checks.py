"""Each limit as a dependency of the routes it guards: refused with a clear status and
message, counted in `tenant_limited{tenant, limit}`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import HTTPConnection

from services.api.deps import StreamTenantDep, TenantDep
from services.api.quotas.storage import StorageLedger
from services.api.quotas.stream_slots import StreamSlots
from services.api.quotas.submit_rate import ActiveLimit, SubmitRate
from shared.telemetry.metrics import TENANT_LIMITED

__all__ = [
    "STREAM_LIMITS",
    "SUBMIT_LIMITS",
    "QuotasDep",
    "TenantQuotas",
    "refusal",
    "stream_refusal",
    "stream_slot",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TenantQuotas:
    """Built once in the lifespan; each part is off when its setting is 0."""

    submit_rate: SubmitRate
    streams: StreamSlots
    storage: StorageLedger
    max_active_jobs: int


def refusal(
    tenant: str, limit: str, code: int, detail: str, headers: dict[str, str] | None = None
) -> HTTPException:
    TENANT_LIMITED.labels(tenant, limit).inc()
    log.info("tenant %s at its %s limit: %s", tenant, limit, detail)
    return HTTPException(code, detail, headers=headers)


def _quotas(conn: HTTPConnection) -> TenantQuotas:
    return conn.app.state.quotas  # type: ignore[no-any-return]


async def get_quotas(conn: HTTPConnection) -> TenantQuotas:
    return _quotas(conn)


async def check_submission_limits(conn: HTTPConnection, tenant: TenantDep) -> None:
    """The active-jobs count and the rate bucket in one Redis round trip; the count first,
    so that a submission it refuses takes nothing from the bucket. While Redis does not
    answer, submissions are not limited: the broker takes jobs without Redis (their records
    catch up), and a limit must not turn a Redis outage into a submission outage."""
    quotas = _quotas(conn)
    try:
        refused = await quotas.submit_rate.admit(tenant, quotas.max_active_jobs)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("tenant limits not checked for %s, Redis unavailable: %s", tenant, exc)
        return
    if isinstance(refused, ActiveLimit):
        raise refusal(
            tenant,
            "active_jobs",
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"{quotas.max_active_jobs} jobs of this tenant are queued or running (the limit); "
            "submit more when some have ended",
        )
    if refused is not None:
        settings = conn.app.state.settings
        raise refusal(
            tenant,
            "submit_rate",
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many submissions: this API accepts {settings.tenant_submit_rate:g} jobs per second "
            f"per tenant (bursts of {settings.tenant_submit_burst}); retry in {refused.retry_after} s",
            {"Retry-After": str(refused.retry_after)},
        )


def stream_refusal(conn: HTTPConnection, tenant: str) -> HTTPException:
    limit = conn.app.state.settings.tenant_max_streams
    return refusal(
        tenant,
        "streams",
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"{limit} streams of this tenant are open (the limit); close one first",
    )


@asynccontextmanager
async def stream_slot(conn: HTTPConnection, tenant: str) -> AsyncIterator[bool]:
    """Holds one of the tenant's stream slots inside the block; False (nothing held) at the limit."""
    streams = _quotas(conn).streams
    slot = await streams.acquire(tenant)
    if slot is None:
        yield False
        return
    try:
        yield True
    finally:
        await streams.release(tenant, slot)


async def hold_stream_slot(conn: HTTPConnection, tenant: StreamTenantDep) -> AsyncIterator[None]:
    """Held for as long as the response streams: FastAPI leaves a `yield` dependency (request
    scope) only once the response has been sent, for a streaming response at its end."""
    async with stream_slot(conn, tenant) as held:
        if not held:
            raise stream_refusal(conn, tenant)
        yield


# For a route's `dependencies=`.
SUBMIT_LIMITS = [Depends(check_submission_limits)]
STREAM_LIMITS = [Depends(hold_stream_slot)]
QuotasDep = Annotated[TenantQuotas, Depends(get_quotas)]
