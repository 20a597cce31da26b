"""The projector folding the job history stream into Redis: resume, loss, regression, TTLs,
Idempotency-Keys, forged records. Real RabbitMQ streams (one per test) and the real Redis."""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aio_pika
import pytest
from redis.asyncio import Redis

from services.projector.history import REBUILDS, HistoryReader
from services.projector.history_store import HistoryStore
from services.projector.projection import Projector
from shared import redis_keys as keys
from shared.history import HistorySettings
from shared.identity import PublisherIdentities
from shared.messaging import HistoryMismatch, Publisher, declare_topology
from shared.readmodel import JobStore
from shared.schemas import JobCommand, JobEvent, JobStatus, JobTimeline
from shared.schemas.commands import (
    IDEMPOTENCY_EXPIRES_HEADER,
    IDEMPOTENCY_FINGERPRINT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
)
from shared.schemas.topology import EVENTS_EXCHANGE, JOBS_EXCHANGE
from tests.support.infra import Infra

pytestmark = pytest.mark.integration
TTL = 3600


class History:
    """A stream of its own, bound to `jobs` and `job-events` by a key only this test uses."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, name: str, key: str) -> None:
        self.channel, self.name, self.key = channel, name, key
        self.exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}

    async def command(self, command: JobCommand, headers: dict[str, Any] | None = None) -> None:
        body = command.model_dump_json().encode()
        message = aio_pika.Message(body, user_id="guest", headers=headers or {}, delivery_mode=2)
        await self.exchanges[JOBS_EXCHANGE].publish(message, routing_key=self.key)

    async def event(self, event: JobEvent) -> None:
        message = aio_pika.Message(event.model_dump_json().encode(), user_id="guest", delivery_mode=2)
        await self.exchanges[EVENTS_EXCHANGE].publish(message, routing_key=self.key)


@pytest.fixture
async def history(amqp: aio_pika.abc.AbstractRobustConnection) -> AsyncIterator[History]:
    channel = await amqp.channel()
    found = History(channel, f"test.history.{uuid.uuid4().hex[:8]}", f"history-test.{uuid.uuid4().hex[:8]}")
    for name in (JOBS_EXCHANGE, EVENTS_EXCHANGE):
        found.exchanges[name] = await channel.declare_exchange(name, "topic", durable=True)
    stream = await channel.declare_queue(found.name, durable=True, arguments={"x-queue-type": "stream"})
    for exchange in found.exchanges.values():
        await stream.bind(exchange, routing_key=found.key)
    yield found
    await channel.queue_delete(found.name)
    await channel.close()


@pytest.fixture
async def clean(redis: Redis) -> Redis:
    await redis.flushdb()  # the test database: the history offset is one key per read model
    return redis


Start = Callable[..., Awaitable[HistoryReader]]


@pytest.fixture
async def start_reader(infra: Infra, clean: Redis, history: History) -> AsyncIterator[Start]:
    tasks: list[asyncio.Task[None]] = []

    async def start(identities: PublisherIdentities | None = None) -> HistoryReader:
        store = HistoryStore(JobStore(clean, finished_ttl=TTL), TTL)
        publisher = cast(Publisher, type("P", (), {"user_id": "projector"})())
        projector = Projector(
            store, publisher, max_delay=1.0, identities=identities or PublisherIdentities(["guest"], {})
        )
        reader = HistoryReader(
            infra.amqp_url,
            projector,
            store,
            prefetch=64,
            check_interval=0.5,
            max_delay=1.0,
            stream=history.name,
        )
        tasks.append(asyncio.create_task(reader.run()))
        return reader

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _command(tenant: str, created_at: datetime | None = None) -> JobCommand:
    return JobCommand(
        job_id=str(uuid.uuid4()),
        tenant=tenant,
        operation="ner.entities",
        input={"text": "x"},
        created_at=created_at or datetime.now(UTC),
    )


async def _run_job(history: History, command: JobCommand, *, at: datetime | None = None) -> None:
    """The command and a whole successful attempt, `at` the time of its events."""
    timeline = JobTimeline(command)
    await history.command(command)
    for event in (timeline.started(), timeline.progress(0.5, "half")):
        await history.event(event.model_copy(update={"at": at or event.at}))
    done = timeline.succeeded({"entities": [command.job_id]})
    await history.event(done.model_copy(update={"at": at or done.at}))


async def _until(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _folded(redis: Redis, offset: int) -> bool:
    stored = await redis.get(keys.HISTORY_OFFSET)
    return stored is not None and int(stored) >= offset


async def _log(redis: Redis, job_id: str) -> list[str]:
    rows = cast(list[str], await redis.lrange(keys.log_key(job_id), 0, -1))
    return [json.loads(row.partition(" ")[2])["type"] for row in rows]


async def test_resumes_after_its_stored_offset(
    history: History, clean: Redis, start_reader: Start, tenant: str
) -> None:
    first = _command(tenant)
    await _run_job(history, first)  # offsets 0..3
    reader = await start_reader()
    await _until(lambda: _folded(clean, 3))
    empties = REBUILDS.labels("empty")._value.get()
    reader2_cmd = _command(tenant)
    # a second projector starts while the first runs: it resumes after the stored offset
    await _run_job(history, reader2_cmd)  # offsets 4..7
    second = await start_reader()
    await _until(lambda: _folded(clean, 7))
    assert REBUILDS.labels("empty")._value.get() == empties, "it replayed from the first record"
    await _until(lambda: asyncio.sleep(0, second.applied == 7))
    store = JobStore(clean)
    for job in (first, reader2_cmd):
        view = await store.get(tenant, job.job_id)
        assert view is not None
        assert view.status == JobStatus.succeeded
        assert await _log(clean, job.job_id) == ["queued", "started", "progress", "succeeded"]
    assert reader.applied == 7
    assert await store.active_jobs(tenant) == 0


async def test_a_flushed_read_model_is_rebuilt_while_new_jobs_run(
    history: History, clean: Redis, start_reader: Start, tenant: str
) -> None:
    done = _command(tenant)
    await _run_job(history, done)
    waiting = _command(tenant)
    expires = int(time.time()) + 600
    await history.command(
        waiting,
        {
            IDEMPOTENCY_KEY_HEADER: "k1",
            IDEMPOTENCY_FINGERPRINT_HEADER: "f1",
            IDEMPOTENCY_EXPIRES_HEADER: expires,
        },
    )
    old_key = _command(tenant)
    await history.command(
        old_key,
        {IDEMPOTENCY_KEY_HEADER: "k0", IDEMPOTENCY_FINGERPRINT_HEADER: "f0", IDEMPOTENCY_EXPIRES_HEADER: 1},
    )
    await start_reader()
    await _until(lambda: _folded(clean, 5))
    store = JobStore(clean)
    before = await store.get(tenant, done.job_id)
    before_log = await clean.lrange(keys.log_key(done.job_id), 0, -1)
    assert await store.active_jobs(tenant) == 2

    await clean.flushdb()  # the read model is lost
    later = _command(tenant)
    await _run_job(history, later)  # new jobs keep running: offsets 6..9
    await _until(lambda: _folded(clean, 9), within=10)
    assert await store.get(tenant, done.job_id) == before
    assert await clean.lrange(keys.log_key(done.job_id), 0, -1) == before_log
    assert (await store.get(tenant, later.job_id)).status == JobStatus.succeeded  # type: ignore[union-attr]
    assert await store.active_jobs(tenant) == 2, "the tenant's active count drifted"
    ledger = await clean.get(keys.idempotency_key(tenant, "k1"))
    assert ledger is not None
    assert json.loads(ledger) == [waiting.job_id, "f1"]
    assert 590 <= await clean.ttl(keys.idempotency_key(tenant, "k1")) <= 600
    assert not await clean.exists(keys.idempotency_key(tenant, "k0")), "an expired key came back"
    members = cast(list[str], await clean.zrange(keys.tenant_index_key(tenant), 0, -1))
    listed = {keys.job_id_of_member(m) for m in members}
    assert listed == {done.job_id, waiting.job_id, old_key.job_id, later.job_id}
    rebuild = await clean.hgetall(keys.HISTORY_REBUILD)
    assert rebuild["reason"] == "lost"
    assert rebuild["state"] == "done"


async def test_finished_jobs_keep_only_what_is_left_of_their_ttl(
    history: History, clean: Redis, start_reader: Start, tenant: str
) -> None:
    now = datetime.now(UTC)
    expired, recent = _command(tenant, now - timedelta(seconds=2 * TTL)), _command(tenant)
    await _run_job(history, expired, at=now - timedelta(seconds=TTL + 60))
    await _run_job(history, recent, at=now - timedelta(seconds=TTL - 100))
    await start_reader()
    await _until(lambda: _folded(clean, 7))
    store = JobStore(clean)
    assert await store.get(tenant, expired.job_id) is None, "a job past its TTL came back"
    assert not await clean.exists(keys.log_key(expired.job_id), keys.result_key(expired.job_id))
    assert 90 <= await clean.ttl(keys.job_key(recent.job_id)) <= 100
    assert 90 <= await clean.ttl(keys.result_key(recent.job_id)) <= 100
    assert await store.active_jobs(tenant) == 0


async def test_a_read_model_ahead_of_a_new_stream_is_refolded_from_its_first_record(
    history: History, clean: Redis, start_reader: Start, tenant: str
) -> None:
    """The broker's data was replaced (a new stream, offsets from 0 again) under a read model
    that had folded 50 records of the old one: resuming after 50 would skip the new ones."""
    await clean.set(keys.HISTORY_OFFSET, 50)
    job = _command(tenant)
    await _run_job(history, job)  # offsets 0..3 of the new stream
    before = REBUILDS.labels("new_stream")._value.get()
    reader = await start_reader()
    await _until(lambda: asyncio.sleep(0, reader.applied == 3))
    assert (await JobStore(clean).get(tenant, job.job_id)).status == JobStatus.succeeded  # type: ignore[union-attr]
    assert REBUILDS.labels("new_stream")._value.get() == before + 1
    assert await clean.get(keys.HISTORY_OFFSET) == "3"


async def test_a_read_model_gone_back_in_time_is_read_again(
    history: History, clean: Redis, start_reader: Start, tenant: str
) -> None:
    job = _command(tenant)
    timeline = JobTimeline(job)
    await history.command(job)
    await history.event(timeline.started())  # offsets 0, 1
    reader = await start_reader()
    await _until(lambda: _folded(clean, 1))
    snapshot = {k: await clean.dump(k) for k in await clean.keys("*")}  # a replica that lags here
    for event in (timeline.progress(0.3, "a"), timeline.progress(0.6, "b")):
        await history.event(event)  # offsets 2, 3
    await _until(lambda: _folded(clean, 3))
    await clean.flushdb()
    for name, value in snapshot.items():  # fail-over to the replica: offset 1, job running
        await clean.restore(name, 0, cast(bytes, value))
    await history.event(timeline.succeeded({"entities": []}))  # offset 4
    await _until(lambda: _folded(clean, 4), within=10)
    assert await _log(clean, job.job_id) == ["queued", "started", "progress", "progress", "succeeded"]
    assert REBUILDS.labels("behind")._value.get() >= 1
    assert reader.applied == 4


async def test_a_channel_closed_under_a_batch_is_reopened(
    history: History, clean: Redis, start_reader: Start, tenant: str
) -> None:
    """The broker closes the reader's channel while a batch waits on Redis (an ack later than
    its consumer timeout): the batch's ack fails, and the reader must read on, not end."""
    reader = await start_reader()
    fold = reader.projector.fold
    closed: list[int] = []

    async def fold_then_lose_the_channel(records: Any, after: int | None) -> Any:
        folded = await fold(records, after)
        if not closed:
            closed.append(len(records))
            await records[-1].channel.close()  # what the broker's consumer timeout does
        return folded

    reader.projector.fold = fold_then_lose_the_channel  # type: ignore[method-assign]
    first, second = _command(tenant), _command(tenant)
    await _run_job(history, first)  # offsets 0..3
    await _until(lambda: asyncio.sleep(0, bool(closed)))
    await _run_job(history, second)  # offsets 4..7: read only if the reader came back
    await _until(lambda: _folded(clean, 7), within=15)
    store = JobStore(clean)
    for job in (first, second):
        assert (await store.get(tenant, job.job_id)).status == JobStatus.succeeded  # type: ignore[union-attr]
    assert await _log(clean, first.job_id) == ["queued", "started", "progress", "succeeded"]


async def test_forged_records_are_skipped_and_counted(
    history: History, clean: Redis, start_reader: Start, tenant: str
) -> None:
    # guest is a tenant's broker user here: its commands for that tenant count, its events never
    await start_reader(PublisherIdentities(["platform"], {"guest": tenant}))
    job, other = _command(tenant), _command(f"{tenant}-other")
    await _run_job(history, job)
    await history.command(other)  # names another tenant than its publisher's
    await _until(lambda: _folded(clean, 4))
    view = await JobStore(clean).get(tenant, job.job_id)
    assert view is not None
    assert view.status == JobStatus.queued
    assert await _log(clean, job.job_id) == ["queued"]
    assert await JobStore(clean).get(other.tenant, other.job_id) is None


async def test_a_stream_with_other_retention_is_a_clear_error(
    amqp: aio_pika.abc.AbstractRobustConnection,
) -> None:
    channel = await amqp.channel()
    await declare_topology(channel)
    other = await amqp.channel()
    with pytest.raises(HistoryMismatch, match="policy"):
        await declare_topology(other, HistorySettings(HISTORY_MAX_AGE="1D"))
    await channel.close()


async def test_jobs_admin_rebuild_replays_and_shows_progress_until_done(
    history: History, clean: Redis, start_reader: Start, tenant: str, infra: Infra
) -> None:
    from cli.admin import _rebuild

    jobs = [_command(tenant) for _ in range(5)]
    for job in jobs:
        await _run_job(history, job)
    await start_reader()
    await _until(lambda: _folded(clean, 19))
    await clean.delete(keys.job_key(jobs[0].job_id))  # damage that only a replay repairs
    assert await asyncio.wait_for(_rebuild(infra.redis_url, True, 30, 10), 40) == 0
    status = await clean.hgetall(keys.HISTORY_REBUILD)
    assert (status["reason"], status["state"], status["applied"]) == ("requested", "done", "19")
    view = await JobStore(clean).get(tenant, jobs[0].job_id)
    assert view is not None
    assert view.status == JobStatus.succeeded
