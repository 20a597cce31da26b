"""The API's per-tenant limits against the real Redis: the submission bucket, the stream
slots (across processes, a dead one's included) and the storage ledger."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from services.api.quotas.storage import StorageLedger
from services.api.quotas.stream_slots import StreamSlots
from services.api.quotas.submit_rate import ActiveLimit, Refused, SubmitRate, bucket_key
from shared.redis_keys import tenant_active_key
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


def other(tenant: str) -> str:
    return f"{tenant}-other"


async def test_the_bucket_allows_a_burst_then_the_rate(redis: Redis, tenant: str) -> None:
    bucket = SubmitRate(redis, rate=1, burst=3)
    assert [await bucket.take(tenant) for _ in range(3)] == [None, None, None]
    refused = await bucket.take(tenant)
    assert refused is not None
    assert refused.retry_after == 1  # 1 s for one token at 1 per second
    assert await bucket.take(other(tenant)) is None  # another tenant has its own bucket
    # One token back at 1 per second (a second one would need 0.9 s more: slack for a busy machine).
    await asyncio.sleep(1.1)
    assert await bucket.take(tenant) is None
    assert await bucket.take(tenant) is not None


async def test_the_bucket_is_shared_by_processes_and_atomic(infra: Infra, tenant: str) -> None:
    clients = [Redis.from_url(infra.redis_url, decode_responses=True) for _ in range(4)]  # 4 "API processes"
    try:
        processes = [SubmitRate(client, rate=0.01, burst=50) for client in clients]
        answers = await asyncio.gather(*(p.take(tenant) for p in processes for _ in range(20)))
    finally:
        for client in clients:
            await client.aclose()
    assert sum(a is None for a in answers) == 50
    refused = [a for a in answers if a is not None]
    assert len(refused) == 30
    assert all(90 <= r.retry_after <= 100 for r in refused)  # about 1/0.01 s until the next token


async def test_a_refused_submission_costs_nothing(redis: Redis, tenant: str) -> None:
    bucket = SubmitRate(redis, rate=10, burst=1)
    assert await bucket.take(tenant) is None
    for _ in range(20):  # hammering an empty bucket does not push the next token further away
        assert await bucket.take(tenant) is not None
    await asyncio.sleep(0.12)
    assert await bucket.take(tenant) is None


async def test_zero_turns_the_bucket_off(redis: Redis, tenant: str) -> None:
    for rate, burst in ((0, 5), (5, 0)):
        bucket = SubmitRate(redis, rate=rate, burst=burst)
        assert all([await bucket.take(tenant) is None for _ in range(20)])
    assert not await redis.exists(bucket_key(tenant))


async def test_the_active_count_and_the_bucket_are_one_round_trip(redis: Redis, tenant: str) -> None:
    """`admit`: the count refuses first and then the bucket is not touched; with no bucket
    the count alone decides; with neither limit nothing is asked of Redis."""
    await redis.set(tenant_active_key(tenant), 3)
    bucket = SubmitRate(redis, rate=1, burst=1)
    assert isinstance(await bucket.admit(tenant, 3), ActiveLimit)
    assert not await redis.exists(bucket_key(tenant))  # a refused submission takes no token
    assert await bucket.admit(tenant, 4) is None
    refused = await bucket.admit(tenant, 4)
    assert isinstance(refused, Refused)
    assert refused.retry_after == 1
    assert isinstance(await bucket.admit(tenant, 3), ActiveLimit)  # the count still comes first
    off = SubmitRate(redis, rate=0, burst=0)
    assert isinstance(await off.admit(tenant, 3), ActiveLimit)
    assert await off.admit(tenant, 0) is None
    await redis.delete(tenant_active_key(tenant))
    assert await off.admit(tenant, 1) is None  # no count yet: none active


async def test_stream_slots_are_counted_across_processes(redis: Redis, tenant: str) -> None:
    first, second = StreamSlots(redis, limit=3), StreamSlots(redis, limit=3)
    held = [await first.acquire(tenant), await second.acquire(tenant), await second.acquire(tenant)]
    assert all(held)
    assert await first.acquire(tenant) is None
    assert await second.acquire(tenant) is None
    assert await first.acquire(other(tenant))  # another tenant: its own slots
    await second.release(tenant, held[1] or "")
    assert await first.acquire(tenant)


async def test_a_dead_process_frees_its_slots_within_a_lease(redis: Redis, tenant: str) -> None:
    dead = StreamSlots(redis, limit=2, lease_seconds=0.5)  # takes two slots, then never renews
    assert await dead.acquire(tenant)
    assert await dead.acquire(tenant)
    alive = StreamSlots(redis, limit=2, lease_seconds=0.5)
    assert await alive.acquire(tenant) is None
    await asyncio.sleep(0.6)
    assert await alive.acquire(tenant)
    assert await alive.acquire(tenant)


async def test_a_living_process_keeps_its_slots_past_the_lease(redis: Redis, tenant: str) -> None:
    holder = StreamSlots(redis, limit=1, lease_seconds=0.3)
    holder.start()  # renews every 0.1 s
    try:
        assert await holder.acquire(tenant)
        await asyncio.sleep(1.0)
        assert await StreamSlots(redis, limit=1, lease_seconds=0.3).acquire(tenant) is None
    finally:
        await holder.stop()
    await asyncio.sleep(0.4)  # stopped renewing: the lease runs out
    assert await StreamSlots(redis, limit=1).acquire(tenant)


async def test_no_stream_limit_records_nothing(redis: Redis, tenant: str) -> None:
    slots = StreamSlots(redis, limit=0)
    assert [await slots.acquire(tenant) for _ in range(5)] == [""] * 5
    assert not await redis.exists(StreamSlots.key(tenant))


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_the_storage_ledger_refuses_past_the_quota(redis: Redis, tenant: str) -> None:
    ledger = StorageLedger(redis, limit=100)
    first = await ledger.reserve(tenant, "a", 60, soon(3600))
    assert (first.taken, first.used) == (True, 60)
    refused = await ledger.reserve(tenant, "b", 50, soon(3600))
    assert (refused.taken, refused.used) == (False, 60)
    assert (await ledger.reserve(other(tenant), "b", 50, None)).taken
    assert await ledger.release(tenant, "a") == 60
    assert await ledger.release(tenant, "a") == 0  # twice frees nothing more
    assert (await ledger.reserve(tenant, "b", 100, None)).used == 100


async def test_expired_files_stop_counting_and_are_handed_back(redis: Redis, tenant: str) -> None:
    ledger = StorageLedger(redis, limit=100)
    await ledger.reserve(tenant, "old", 70, soon(1))
    await ledger.reserve(tenant, "kept", 20, None)
    assert not (await ledger.reserve(tenant, "new", 30, None)).taken
    await asyncio.sleep(2.1)  # Redis TIME has whole seconds here
    later = await ledger.reserve(tenant, "new", 30, None)
    assert (later.taken, later.used, later.expired) == (True, 50, ["old"])
    assert await ledger.purge(tenant) == []
    assert await ledger.release(tenant, "old") == 0
