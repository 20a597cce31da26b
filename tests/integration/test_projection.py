"""The projector's batched apply, against the real Redis."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from redis.asyncio import Redis

from services.projector.projection import Projector
from shared.identity import PublisherIdentities
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.redis_keys import log_key
from shared.schemas import SEQ_PER_ATTEMPT, JobEvent, JobStatus, Progress, Started, Succeeded

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _events(tenant: str, job_id: str) -> list[JobEvent]:
    base = {"job_id": job_id, "tenant": tenant, "operation": "ner.entities", "job_created_at": T0}
    seq = SEQ_PER_ATTEMPT
    return [
        Started(**base, seq=seq + 1, at=T0),
        *(
            Progress(**base, seq=seq + 1 + i, at=T0 + timedelta(seconds=i), fraction=i / 6, message=f"{i}")
            for i in range(1, 6)
        ),
        Succeeded(**base, seq=seq + 7, at=T0 + timedelta(seconds=7), result={"entities": []}),
    ]


async def test_events_handed_in_at_once_land_in_order_none_stale(redis: Redis, tenant: str) -> None:
    store = JobStore(redis, finished_ttl=3600)
    identities = PublisherIdentities(["guest"], {})
    projector = Projector(store, cast(Publisher, None), max_delay=1.0, identities=identities, max_batch=16)
    jobs = [str(uuid.uuid4()) for _ in range(20)]
    per_job = [_events(tenant, job) for job in jobs]
    interleaved = [events[i] for i in range(7) for events in per_job]  # as deliveries arrive
    try:
        outcomes = await asyncio.gather(*(projector.apply(e) for e in interleaved))
    finally:
        await projector.close()
    assert outcomes == [1] * len(interleaved), "an event was applied out of order (stale)"
    for job in jobs:
        view = await store.get(tenant, job)
        assert view is not None
        assert (view.status, view.seq) == (JobStatus.succeeded, SEQ_PER_ATTEMPT + 7)
        assert await redis.llen(log_key(job)) == 7


async def test_a_batch_survives_redis_losing_its_scripts(redis: Redis, tenant: str) -> None:
    store = JobStore(redis, finished_ttl=3600)
    job = str(uuid.uuid4())
    events = _events(tenant, job)
    assert await store.apply_many(events[:3]) == [1, 1, 1]
    await redis.script_flush()  # what a restarted Redis looks like to the script cache
    assert await store.apply_many(events[3:]) == [1, 1, 1, 1]
    assert await store.apply_many(events) == [0] * 7  # all duplicates now
