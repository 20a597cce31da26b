"""Redis behind Sentinel (shared/redis_client.py), client by client, against a throwaway
primary, replica and three sentinels (tests/support/sentinels.py): each test kills or
demotes the primary and checks that the clients every service builds follow the new one.

What the services count on, and is checked here rather than assumed from redis-py's docs:
every error while the master moves is a `ConnectionError` or `TimeoutError` (what the API
answers 503 for, the projector retries and the workers treat as `Unavailable`); `READONLY`
from a demoted master included; Lua scripts work on the new master (it never saw them)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.api.quotas.submit_rate import SubmitRate
from services.api.streaming import UpdateHub, job_events
from services.llm.budget import TokenBudget
from shared.control import JobControl
from shared.readmodel import JobStore
from shared.schemas import JobCommand, JobTimeline
from shared.settings import CommonSettings
from tests.support.sentinels import MASTER, SentinelGroup, running_group

pytestmark = pytest.mark.integration

DB = 4


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    with running_group() as group:
        yield group


@pytest.fixture
async def client(group: SentinelGroup) -> AsyncIterator[Redis]:
    """Built the way every service builds its client, from the settings."""
    settings = CommonSettings.model_validate(
        {
            "REDIS_URL": f"redis://:data-secret@ignored.invalid/{DB}",  # the sentinels name the host
            "REDIS_SENTINELS": group.sentinels,
            "REDIS_SENTINEL_MASTER": MASTER,
            "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
            "REDIS_TIMEOUT": "1",
        }
    )
    client = settings.redis()
    yield client
    await client.aclose()


def command(tenant: str = "alpha") -> JobCommand:
    return JobCommand(
        job_id=str(uuid.uuid4()),
        tenant=tenant,
        operation="ner.entities",
        input={"text": "x"},
        created_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
    )


async def until_written(call: Callable[[], Awaitable[Any]], within: float = 30) -> tuple[float, set[str]]:
    """Seconds until `call` succeeds, and the kinds of error seen meanwhile: each must be
    one the services treat as Redis being briefly unavailable."""
    start = time.monotonic()
    seen: set[str] = set()
    while time.monotonic() - start < within:
        try:
            await call()
            return time.monotonic() - start, seen
        except (RedisConnectionError, RedisTimeoutError) as exc:
            seen.add(type(exc).__name__)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no write succeeded within {within}s (errors: {seen})")


async def test_every_client_follows_the_promoted_replica_and_reloads_its_scripts(
    group: SentinelGroup, client: Redis
) -> None:
    store = JobStore(client)
    job = command()
    timeline = JobTimeline.new(job)
    assert await store.apply(timeline.queued()) == 1
    assert await store.apply(timeline.started()) == 1
    rate = SubmitRate(client, rate=100, burst=100)
    budget = TokenBudget(client, daily_tokens=1000)
    assert await rate.take("alpha") is None
    await budget.reserve("alpha", 10)
    await client.wait(1, 2000)  # the test's own writes are on the replica

    old = group.master_port()
    group.kill(old)
    elapsed, errors = await until_written(lambda: store.apply(timeline.progress(0.5, "half")))
    new = group.master_port()
    assert new != old
    print(f"first write {elapsed:.2f}s after SIGKILL of the primary; errors meanwhile: {errors}")

    # the new master never saw a script: each reloads on NOSCRIPT (redis-py's Script, apply_many)
    assert await store.apply_many([timeline.succeeded({"n": 1})]) == [1]
    assert await rate.take("alpha") is None
    await budget.reserve("alpha", 10)
    assert await budget.used("alpha") == 20
    control = JobControl(client)
    await control.request_cancel(job.job_id, ttl=60)
    assert await control.cancel_state(job.job_id) == "requested"
    view = await store.get("alpha", job.job_id)
    assert view is not None
    assert view.status == "succeeded"
    assert view.result == {"n": 1}
    direct = Redis(port=new, password="data-secret", db=DB, decode_responses=True)
    assert await direct.hget(f"jobs:job:{job.job_id}", "status") == "succeeded"
    await direct.aclose()


async def test_a_demoted_master_answers_readonly_which_the_client_treats_as_a_lost_connection(
    group: SentinelGroup, client: Redis
) -> None:
    store = JobStore(client)
    job = command()
    timeline = JobTimeline.new(job)
    assert await store.apply(timeline.queued()) == 1  # connections to the master are open now
    started = timeline.started()
    old, replica = group.data_ports
    # demoted behind the sentinels' back, as after a partition heals: clients are not cut off
    group.client(replica).replicaof("NO", "ONE")
    group.client(old).replicaof("127.0.0.1", replica)
    for write in (
        lambda: client.set("plain", "1"),
        lambda: store.apply(started),  # a script (EVALSHA)
        lambda: store.apply_many([started]),  # a pipeline of scripts
    ):
        with pytest.raises(RedisConnectionError, match="previous master is now a slave"):
            await write()
    group.sentinel_client(group.sentinel_ports[0]).sentinel_failover(MASTER)
    await until_written(lambda: store.apply(started))
    assert group.master_port() == replica
    view = await store.get("alpha", job.job_id)
    assert view is not None
    assert view.status == "running"


async def test_a_job_stream_open_across_a_fail_over_ends_with_the_terminal_event(
    group: SentinelGroup, client: Redis
) -> None:
    store = JobStore(client)
    hub = UpdateHub(client)
    hub.start()
    try:
        job = command()
        timeline = JobTimeline.new(job)
        await store.apply(timeline.queued())
        await store.apply(timeline.started())
        await client.wait(1, 2000)
        # no keep-alive within the test: only the hub (a notice, or its new subscription) wakes it
        items = job_events(store, hub, "alpha", job.job_id, after=None, keepalive=60)
        first = await asyncio.wait_for(anext(items), 5)
        assert first is not None
        assert first.event == "snapshot"
        epoch = hub.epoch

        received: list[str] = []

        async def read_to_end() -> None:
            async for item in items:  # reads fail while there is no master: the stream retries
                if item is not None:
                    received.append(item.event)

        group.kill(group.master_port())
        await until_written(lambda: store.apply(timeline.progress(0.5, "half")))
        await store.apply(timeline.succeeded({"n": 1}))
        await asyncio.wait_for(read_to_end(), 20)
        assert received == ["progress", "succeeded"]
        assert hub.epoch > epoch, "the hub did not notice its subscription was made again"
    finally:
        await hub.stop()


async def test_reads_during_the_fail_over_fail_as_unavailable_never_as_wrong_answers(
    group: SentinelGroup, client: Redis
) -> None:
    store = JobStore(client)
    job = command()
    await store.apply(JobTimeline.new(job).queued())
    await client.wait(1, 2000)
    group.kill(group.master_port())
    outcomes: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            view = await store.get("alpha", job.job_id)
        except (RedisConnectionError, RedisTimeoutError):  # any other RedisError fails the test
            outcomes.add("unavailable")
        else:
            assert view is not None
            assert view.status == "queued"
            outcomes.add("read")
            if "unavailable" in outcomes:
                break
        await asyncio.sleep(0.05)
    assert outcomes == {"unavailable", "read"}
