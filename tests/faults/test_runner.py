"""JobRunner against a real broker and Redis, with handlers that fail on purpose: retries
through the delay queues, giving up, time limits, cancellation, crash loops, draining.
Runs in its own vhost of the throwaway node, so no service consumes behind its back."""

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from shared.control import JobControl
from shared.messaging import Publisher, stop_consuming
from shared.schemas import JobCommand, NerInput, NerResult, parse_event
from shared.schemas.topology import EVENTS_EXCHANGE, NER_QUEUE
from shared.worker import JobContext, JobFailure, JobRunner, OperationConfig, RunnerConfig, TransientError
from tests.support.servers import ThrowawayRabbit, ThrowawayRedis

pytestmark = pytest.mark.faults

Handler = Callable[[NerInput, JobContext], Coroutine[Any, Any, BaseModel]]


class Harness:
    """A runner consuming ner.jobs in a private vhost, and every event it publishes."""

    def __init__(self, url: str, redis: Redis) -> None:
        self.url = url
        self.redis = redis
        self.events: list[Any] = []
        self.runners: list[tuple[JobRunner, aio_pika.abc.AbstractChannel]] = []

    async def open(self) -> "Harness":
        self.publisher = await Publisher.connect(self.url, name="harness")
        self.connection = await aio_pika.connect_robust(self.url)
        channel = await self.connection.channel()
        watch = await channel.declare_queue(exclusive=True)
        await watch.bind(EVENTS_EXCHANGE, routing_key="#")

        async def collect(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            self.events.append(parse_event(message.body))
            await message.ack()

        await watch.consume(collect)
        return self

    async def runner(self, handler: Handler, *, time_limit: float = 30, max_attempts: int = 3) -> JobRunner:
        runner = JobRunner(
            NER_QUEUE,
            self.publisher,
            JobControl(self.redis),
            {"ner.entities": OperationConfig(handler, time_limit=time_limit, max_attempts=max_attempts)},
            RunnerConfig(retry_base_delay=0.5, cancel_poll_interval=0.2, lease_after=60, lease_ttl=10),
        )
        runner.start()
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=10)
        queue = await channel.declare_queue(NER_QUEUE.name, passive=True)
        await queue.consume(runner.handle)
        self.runners.append((runner, channel))
        return runner

    async def submit(self, text: str = "Paris") -> JobCommand:
        command = JobCommand(
            job_id=str(uuid.uuid4()),
            tenant="t",
            operation="ner.entities",
            input={"text": text},
            created_at=datetime.now(UTC),
        )
        await self.publisher.publish_command(command)
        return command

    def of(self, job_id: str) -> list[Any]:
        return [e for e in self.events if e.job_id == job_id]

    async def until(self, job_id: str, kind: str, within: float = 20) -> list[Any]:
        for _ in range(int(within / 0.05)):
            if any(e.type == kind for e in self.of(job_id)):
                return self.of(job_id)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind} event for {job_id}: {[e.type for e in self.of(job_id)]}")

    async def close(self) -> None:
        for runner, channel in self.runners:
            await stop_consuming(channel)
            await runner.drain(0)
            await channel.close()
        await self.connection.close()
        await self.publisher.close()


@pytest.fixture
async def harness(rabbit: ThrowawayRabbit, fault_redis: ThrowawayRedis) -> AsyncIterator[Harness]:
    url = rabbit.add_vhost(f"runner-{uuid.uuid4().hex[:8]}")
    redis = Redis.from_url(fault_redis.url, decode_responses=True)
    h = await Harness(url, redis).open()
    yield h
    await h.close()
    await redis.aclose()


async def entities(job: NerInput, ctx: JobContext) -> NerResult:
    return NerResult(entities=[], model="test")


async def test_transient_failures_are_retried_with_growing_delays(harness: Harness) -> None:
    attempts: list[tuple[int, float]] = []

    async def flaky(job: NerInput, ctx: JobContext) -> NerResult:
        attempts.append((ctx.command.attempt, asyncio.get_running_loop().time()))
        if ctx.command.attempt < 3:
            raise TransientError("provider_unavailable", "the provider answered 503")
        return await entities(job, ctx)

    await harness.runner(flaky)
    command = await harness.submit()
    events = await harness.until(command.job_id, "succeeded")
    assert [(e.type, e.attempt) for e in events] == [
        ("started", 1),
        ("retrying", 1),
        ("started", 2),
        ("retrying", 2),
        ("started", 3),
        ("succeeded", 3),
    ]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(attempts)]
    assert 0.2 <= gaps[0] <= 3.0  # 0.5 s base, jittered x0.5..1
    assert gaps[1] >= 0.4
    assert events[1].error.code == "provider_unavailable"


async def test_the_last_attempt_fails_the_job_and_dead_letters_it(harness: Harness) -> None:
    async def down(job: NerInput, ctx: JobContext) -> NerResult:
        raise TransientError("provider_unavailable", "still down")

    await harness.runner(down, max_attempts=2)
    command = await harness.submit()
    events = await harness.until(command.job_id, "failed")
    assert [e.type for e in events] == ["started", "retrying", "started", "failed"]
    assert events[-1].error.code == "provider_unavailable"
    assert "after 2 attempts" in events[-1].error.message
    channel = await harness.connection.channel()
    dlq = await channel.declare_queue(NER_QUEUE.dead_letter_queue, passive=True)
    message = await dlq.get(timeout=5)
    assert message is not None
    assert message.headers["x-error-code"] == "provider_unavailable"
    assert JobCommand.model_validate_json(message.body).attempt == 2


async def test_permanent_failures_are_not_retried(harness: Harness) -> None:
    async def refuse(job: NerInput, ctx: JobContext) -> NerResult:
        raise JobFailure("unsupported_language", "only English")

    await harness.runner(refuse)
    command = await harness.submit()
    events = await harness.until(command.job_id, "failed")
    assert [e.type for e in events] == ["started", "failed"]


async def test_a_job_over_its_time_limit_fails_and_frees_the_worker(harness: Harness) -> None:
    async def slow_on_request(job: NerInput, ctx: JobContext) -> NerResult:
        if job.text == "slow":
            await asyncio.sleep(60)
        return await entities(job, ctx)

    await harness.runner(slow_on_request, time_limit=1)
    slow = await harness.submit("slow")
    events = await harness.until(slow.job_id, "failed", within=10)
    assert events[-1].error.code == "timeout"
    fast = await harness.submit("fast")
    await harness.until(fast.job_id, "succeeded")


async def test_cancel_stops_a_running_job_within_two_seconds(harness: Harness) -> None:
    steps: list[int] = []

    async def long_running(job: NerInput, ctx: JobContext) -> NerResult:
        for step in range(600):
            steps.append(step)
            await asyncio.sleep(0.05)
        return await entities(job, ctx)

    await harness.runner(long_running)
    command = await harness.submit()
    await harness.until(command.job_id, "started")
    await asyncio.sleep(0.3)
    asked = asyncio.get_running_loop().time()
    await JobControl(harness.redis).request_cancel(command.job_id, 60)
    await harness.until(command.job_id, "cancelled", within=2)
    assert asyncio.get_running_loop().time() - asked < 2
    stopped_at = len(steps)
    await asyncio.sleep(0.3)
    assert len(steps) == stopped_at, "the handler kept running after the cancel"


async def test_a_cancelled_queued_job_never_starts(harness: Harness) -> None:
    ran: list[str] = []

    async def record(job: NerInput, ctx: JobContext) -> NerResult:
        ran.append(ctx.command.job_id)
        return await entities(job, ctx)

    command = await harness.submit()
    await JobControl(harness.redis).request_cancel(command.job_id, 60)
    await harness.runner(record)
    events = await harness.until(command.job_id, "cancelled")
    assert [e.type for e in events] == ["cancelled"]
    assert ran == []


async def test_a_message_that_kills_its_worker_every_time_ends_failed(harness: Harness) -> None:
    """Each closed channel is what the broker sees when a worker is SIGKILLed mid-job."""
    command = await harness.submit()
    for _ in range(4):
        channel = await harness.connection.channel()
        queue = await channel.declare_queue(NER_QUEUE.name, passive=True)
        message = await queue.get(timeout=5)
        assert message is not None
        await channel.close()  # "dies" holding the delivery
    ran: list[str] = []

    async def record(job: NerInput, ctx: JobContext) -> NerResult:
        ran.append(ctx.command.job_id)
        return await entities(job, ctx)

    await harness.runner(record)
    events = await harness.until(command.job_id, "failed")
    assert events[-1].error.code == "worker_crashed"
    assert ran == []
    channel = await harness.connection.channel()
    dlq = await channel.declare_queue(NER_QUEUE.dead_letter_queue, passive=True)
    message = await dlq.get(timeout=5)
    assert message is not None
    assert message.headers["x-error-code"] == "worker_crashed"


async def test_drain_hands_unfinished_jobs_back_and_they_finish_once(harness: Harness) -> None:
    finished: list[str] = []

    async def slowish(job: NerInput, ctx: JobContext) -> NerResult:
        await asyncio.sleep(3 if job.text == "long" else 0.1)
        finished.append(job.text)
        return await entities(job, ctx)

    first = await harness.runner(slowish)
    long_job = await harness.submit("long")
    await harness.until(long_job.job_id, "started")
    short_job = await harness.submit("short")
    await harness.until(short_job.job_id, "started")
    runner, channel = harness.runners.pop(0)
    await stop_consuming(channel)  # as the worker apps do on SIGTERM, before draining
    await first.drain(grace=1.0)  # the short job finishes, the long one is handed back
    await channel.close()
    assert finished == ["short"]
    await harness.runner(slowish)
    events = await harness.until(long_job.job_id, "succeeded", within=15)
    await asyncio.sleep(1)  # a duplicate run would show up here
    assert finished == ["short", "long"]
    assert [e.type for e in events].count("succeeded") == 1
    assert runner is first
