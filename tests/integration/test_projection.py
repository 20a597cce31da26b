"""The projector's batched apply, against the real Redis."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from services.projector.history_store import HistoryStore, Lost
from shared.readmodel import JobStore
from shared.redis_keys import HISTORY_OFFSET, log_key
from shared.schemas import SEQ_PER_ATTEMPT, JobEvent, JobStatus, Progress, Started, Succeeded

pytestmark = pytest.mark.integration
T0 = datetime.now(UTC) - timedelta(minutes=1)  # finished jobs live 1 h from their events


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


async def test_a_batch_lands_in_order_with_its_offset_none_stale(redis: Redis, tenant: str) -> None:
    await redis.delete(HISTORY_OFFSET)
    history = HistoryStore(JobStore(redis, finished_ttl=3600), 3600)
    jobs = [str(uuid.uuid4()) for _ in range(20)]
    per_job = [_events(tenant, job) for job in jobs]
    interleaved = [events[i] for i in range(7) for events in per_job]  # as the stream has them
    outcomes = await history.fold(interleaved[:70], [], after=None, offset=69)
    outcomes += await history.fold(interleaved[70:], [], after=69, offset=139)  # type: ignore[operator]
    assert outcomes == [1] * len(interleaved), "an event was applied out of order (stale)"
    assert await history.stored_offset() == 139
    for job in jobs:
        view = await history.store.get(tenant, job)
        assert view is not None
        assert (view.status, view.seq) == (JobStatus.succeeded, SEQ_PER_ATTEMPT + 7)
        assert await redis.llen(log_key(job)) == 7
    # the read model behind what a projector folded: nothing applied, where it really is
    late = Progress(**{**per_job[0][1].model_dump(), "seq": SEQ_PER_ATTEMPT + 9})
    assert await history.fold([late], [], after=200, offset=201) == Lost(139)
    await redis.delete(HISTORY_OFFSET)
    assert await history.fold([late], [], after=139, offset=140) == Lost(None)


async def test_a_batch_survives_redis_losing_its_scripts(redis: Redis, tenant: str) -> None:
    store = JobStore(redis, finished_ttl=3600)
    job = str(uuid.uuid4())
    events = _events(tenant, job)
    assert await store.apply_many(events[:3]) == [1, 1, 1]
    await redis.script_flush()  # what a restarted Redis looks like to the script cache
    assert await store.apply_many(events[3:]) == [1, 1, 1, 1]
    assert await store.apply_many(events) == [0] * 7  # all duplicates now
