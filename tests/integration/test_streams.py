"""Live streams (services/api/streaming.py) against the real Redis: typed items, one read
per wake, and a tenant's feed that never carries another tenant's jobs."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from services.api.streaming import UpdateHub, job_events, tenant_updates
from shared.readmodel import JobStore
from shared.schemas import JobCommand, JobEvent, JobStatus, JobTimeline, JobView, Succeeded
from shared.schemas.streams import StreamItem

pytestmark = pytest.mark.integration


@pytest.fixture
async def hub(redis: Redis) -> AsyncIterator[UpdateHub]:
    hub = UpdateHub(redis)
    hub.start()
    await asyncio.sleep(0.2)  # subscribed
    yield hub
    await hub.stop()


def command(tenant: str) -> JobCommand:
    return JobCommand(
        job_id=str(uuid.uuid4()),
        tenant=tenant,
        operation="ner.entities",
        input={"text": "x"},
        created_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
    )


async def next_item(items: AsyncIterator[StreamItem | None]) -> StreamItem | None:
    return await asyncio.wait_for(anext(items), 5)


async def test_a_job_stream_is_a_snapshot_then_typed_events_until_the_terminal_one(
    redis: Redis, hub: UpdateHub, tenant: str
) -> None:
    store = JobStore(redis)
    job = command(tenant)
    await store.apply(JobTimeline.new(job).queued())
    items = job_events(store, hub, tenant, job.job_id, after=None, keepalive=5)
    snapshot = await next_item(items)
    assert snapshot is not None
    assert (snapshot.event, snapshot.id) == ("snapshot", 1_000_000)
    assert isinstance(snapshot.data, JobView)
    timeline = JobTimeline(job)
    published: list[JobEvent] = [
        timeline.started(),
        timeline.progress(0.5, "half"),
        timeline.succeeded({"n": 1}),
    ]
    for event in published:
        await store.apply(event)
    received = [await next_item(items) for _ in published]
    assert [item.data for item in received if item is not None] == published
    last = received[-1]
    assert last is not None
    assert isinstance(last.data, Succeeded)
    assert last.payload()["result"] == {"n": 1}
    with pytest.raises(StopAsyncIteration):
        await next_item(items)


async def test_a_resumed_stream_of_a_finished_job_ends_at_once(
    redis: Redis, hub: UpdateHub, tenant: str
) -> None:
    store = JobStore(redis)
    job = command(tenant)
    timeline = JobTimeline(job)
    for event in (timeline.started(), timeline.cancelled()):
        await store.apply(event)
    items = job_events(store, hub, tenant, job.job_id, after=1_000_001, keepalive=5)
    cancelled = await next_item(items)
    assert cancelled is not None
    assert (cancelled.event, cancelled.id) == ("cancelled", 1_000_002)
    with pytest.raises(StopAsyncIteration):
        await next_item(items)
    assert [i async for i in job_events(store, hub, "mallory", job.job_id, after=None, keepalive=5)] == []


async def test_a_tenants_feed_carries_only_its_jobs_without_results(
    redis: Redis, hub: UpdateHub, tenant: str
) -> None:
    store = JobStore(redis)
    items = tenant_updates(store, hub, tenant, keepalive=5)
    first = asyncio.ensure_future(next_item(items))
    await asyncio.sleep(0.1)  # the feed is open
    other, own = command(f"{tenant}-other"), command(tenant)
    await store.apply(JobTimeline(other).started())
    own_timeline = JobTimeline(own)
    await store.apply(own_timeline.started())
    item = await first
    assert item is not None
    assert (item.event, item.data.status, item.data.id) == ("job", JobStatus.running, own.job_id)  # type: ignore[union-attr]
    await store.apply(own_timeline.succeeded({"big": "x" * 100}))
    done = await next_item(items)
    assert done is not None
    assert "result" not in done.payload()
    assert done.payload()["status"] == "succeeded"
