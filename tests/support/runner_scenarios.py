"""The runner's behaviour, written once and run on two transports (as FastStream's own
tests run one testcase in memory and on a real broker): `tests/unit/test_runner_in_memory.py`
on in-memory ports, `tests/integration/test_runner_on_rabbitmq.py` on RabbitMQ and Redis.
A subclass provides the `transport` fixture (tests/support/runner_transport.py)."""

import asyncio
import itertools
import re

import pytest

from shared.identity import PublisherIdentities
from shared.schemas import JobCommand, NerInput, NerResult
from shared.worker import JobContext, JobFailure, TransientError
from tests.support.runner_transport import RunnerTransport

__all__ = ["RunnerScenarios"]


async def entities(job: NerInput, ctx: JobContext) -> NerResult:
    return NerResult(entities=[], model="test")


class RunnerScenarios:
    async def test_a_job_runs_and_succeeds(self, transport: RunnerTransport) -> None:
        await transport.runner(entities)
        command = await transport.submit()
        events = await transport.until(command.job_id, "succeeded")
        assert [e.type for e in events] == ["started", "succeeded"]
        assert [e.seq for e in events] == sorted(e.seq for e in events)
        assert events[-1].result == {"entities": [], "model": "test"}  # type: ignore[union-attr]

    async def test_permanent_failures_are_not_retried(self, transport: RunnerTransport) -> None:
        async def refuse(job: NerInput, ctx: JobContext) -> NerResult:
            raise JobFailure("unsupported_language", "only English")

        await transport.runner(refuse)
        command = await transport.submit()
        events = await transport.until(command.job_id, "failed")
        assert [e.type for e in events] == ["started", "failed"]
        assert events[-1].error.code == "unsupported_language"  # type: ignore[union-attr]

    async def test_transient_failures_are_retried_with_growing_delays(
        self, transport: RunnerTransport
    ) -> None:
        attempts: list[tuple[int, float]] = []

        async def flaky(job: NerInput, ctx: JobContext) -> NerResult:
            attempts.append((ctx.command.attempt, asyncio.get_running_loop().time()))
            if ctx.command.attempt < 3:
                raise TransientError("provider_unavailable", "the provider answered 503")
            return await entities(job, ctx)

        await transport.runner(flaky)
        command = await transport.submit()
        events = await transport.until(command.job_id, "succeeded")
        assert [(e.type, e.attempt) for e in events] == [
            ("started", 1),
            ("retrying", 1),
            ("started", 2),
            ("retrying", 2),
            ("started", 3),
            ("succeeded", 3),
        ]
        assert [e.seq for e in events] == sorted(e.seq for e in events)
        base = transport.timing.retry_base_delay
        gaps = [b[1] - a[1] for a, b in itertools.pairwise(attempts)]
        assert 0.4 * base <= gaps[0] <= 6 * base  # the base delay, jittered x0.5..1
        assert gaps[1] >= 0.8 * base  # twice the base, jittered
        assert events[1].error.code == "provider_unavailable"  # type: ignore[union-attr]

    async def test_the_last_attempt_fails_the_job_and_dead_letters_it(
        self, transport: RunnerTransport
    ) -> None:
        async def down(job: NerInput, ctx: JobContext) -> NerResult:
            raise TransientError("provider_unavailable", "still down")

        await transport.runner(down, max_attempts=2)
        command = await transport.submit()
        events = await transport.until(command.job_id, "failed")
        assert [e.type for e in events] == ["started", "retrying", "started", "failed"]
        assert events[-1].error.code == "provider_unavailable"  # type: ignore[union-attr]
        assert "after 2 attempts" in events[-1].error.message  # type: ignore[union-attr]
        code, body = await transport.dead_letter()
        assert code == "provider_unavailable"
        assert JobCommand.model_validate_json(body).attempt == 2

    async def test_a_crash_fails_the_job_without_telling_the_tenant_why(
        self, transport: RunnerTransport
    ) -> None:
        async def crash(job: NerInput, ctx: JobContext) -> NerResult:
            raise KeyError("/srv/secret/path")

        await transport.runner(crash)
        command = await transport.submit()
        events = await transport.until(command.job_id, "failed")
        error = events[-1].error  # type: ignore[union-attr]
        assert error.code == "internal_error"
        assert re.fullmatch(r"internal error \(trace [0-9a-f]{32}\)", error.message), error.message
        assert "secret" not in error.message
        assert (await transport.dead_letter())[0] == "internal_error"

    async def test_a_job_over_its_time_limit_fails_and_frees_the_worker(
        self, transport: RunnerTransport
    ) -> None:
        limit = transport.timing.time_limit

        async def slow_on_request(job: NerInput, ctx: JobContext) -> NerResult:
            if job.text == "slow":
                await asyncio.sleep(60)
            return await entities(job, ctx)

        await transport.runner(slow_on_request, time_limit=limit)
        slow = await transport.submit("slow")
        events = await transport.until(slow.job_id, "failed")
        assert events[-1].error.code == "timeout"  # type: ignore[union-attr]
        fast = await transport.submit("fast")
        await transport.until(fast.job_id, "succeeded")

    async def test_cancel_stops_a_running_job(self, transport: RunnerTransport) -> None:
        steps: list[int] = []

        async def long_running(job: NerInput, ctx: JobContext) -> NerResult:
            for step in range(6000):
                steps.append(step)
                await asyncio.sleep(0.01)
            return await entities(job, ctx)

        await transport.runner(long_running)
        command = await transport.submit()
        await transport.until(command.job_id, "started")
        asked = asyncio.get_running_loop().time()
        await transport.request_cancel(command.job_id)
        await transport.until(command.job_id, "cancelled", within=2)
        assert asyncio.get_running_loop().time() - asked < 2
        stopped_at = len(steps)
        await asyncio.sleep(0.1)
        assert len(steps) == stopped_at, "the handler kept running after the cancel"

    async def test_a_cancelled_queued_job_never_starts(self, transport: RunnerTransport) -> None:
        ran: list[str] = []

        async def record(job: NerInput, ctx: JobContext) -> NerResult:
            ran.append(ctx.command.job_id)
            return await entities(job, ctx)

        command = await transport.submit()
        await transport.request_cancel(command.job_id)
        await transport.runner(record)
        events = await transport.until(command.job_id, "cancelled")
        assert [e.type for e in events] == ["cancelled"]
        assert ran == []

    async def test_a_cancel_the_api_recorded_is_not_published_again(self, transport: RunnerTransport) -> None:
        cancelled, later = await transport.submit(), await transport.submit()
        await transport.request_cancel(cancelled.job_id, recorded=True)
        await transport.runner(entities)
        await transport.until(later.job_id, "succeeded")
        assert transport.of(cancelled.job_id) == []

    @pytest.mark.parametrize(
        ("body", "routing_key", "code", "fails_job"),
        [
            (b"not json", "ner.entities", "malformed_json", False),
            (b'{"job_id": "j-@", "tenant": "t", "input": {}}', "ner.entities", "invalid_envelope", True),
            (b"@cmd:ner.other", "ner.other", "unknown_operation", True),
            (b"@cmd-input:5", "ner.entities", "invalid_input", True),
        ],
    )
    async def test_a_message_that_cannot_run_is_dead_lettered_and_its_job_failed(
        self, transport: RunnerTransport, body: bytes, routing_key: str, code: str, fails_job: bool
    ) -> None:
        await transport.runner(entities)
        job = JobCommand.model_validate_json(
            (await transport.submit()).model_dump_json()  # a fresh job id, already run
        )
        await transport.until(job.job_id, "succeeded")
        named = job.model_copy(update={"job_id": f"{job.job_id}-bad"})
        if body == b"@cmd:ner.other":
            body = named.model_copy(update={"operation": "ner.other"}).model_dump_json().encode()
        elif body == b"@cmd-input:5":
            body = named.model_copy(update={"input": {"text": 5}}).model_dump_json().encode()
        else:
            body = body.replace(b"j-@", named.job_id.encode())
        await transport.publish_raw(body, routing_key)
        assert (await transport.dead_letter())[0] == code
        if fails_job:
            events = await transport.until(named.job_id, "failed")
            assert [(e.type, e.error.code) for e in events] == [("failed", code)]  # type: ignore[union-attr]
        else:
            assert transport.of(named.job_id) == []

    async def test_a_message_that_kills_its_worker_every_time_ends_failed(
        self, transport: RunnerTransport
    ) -> None:
        command = await transport.submit()
        for _ in range(4):
            await transport.crash_holding_next()
        ran: list[str] = []

        async def record(job: NerInput, ctx: JobContext) -> NerResult:
            ran.append(ctx.command.job_id)
            return await entities(job, ctx)

        await transport.runner(record)
        events = await transport.until(command.job_id, "failed")
        assert events[-1].error.code == "worker_crashed"  # type: ignore[union-attr]
        assert ran == []
        assert (await transport.dead_letter())[0] == "worker_crashed"

    async def test_a_publisher_naming_another_tenant_is_refused(self, transport: RunnerTransport) -> None:
        ran: list[str] = []

        async def record(job: NerInput, ctx: JobContext) -> NerResult:
            ran.append(ctx.command.job_id)
            return await entities(job, ctx)

        await transport.runner(record, identities=PublisherIdentities([], {"guest": "acme"}))
        command = await transport.submit(tenant="globex")
        assert (await transport.dead_letter())[0] == "tenant_mismatch"
        assert transport.of(command.job_id) == []  # its sender may not speak for that job
        assert ran == []

    async def test_drain_hands_unfinished_jobs_back_and_they_finish_once(
        self, transport: RunnerTransport
    ) -> None:
        unit = transport.timing.time_limit
        finished: list[str] = []

        async def slowish(job: NerInput, ctx: JobContext) -> NerResult:
            await asyncio.sleep(3 * unit if job.text == "long" else 0.1 * unit)
            finished.append(job.text or "")
            return await entities(job, ctx)

        first = await transport.runner(slowish)
        long_job = await transport.submit("long")
        await transport.until(long_job.job_id, "started")
        short_job = await transport.submit("short")
        await transport.until(short_job.job_id, "started")
        await transport.stop_and_drain(first, grace=unit)  # the short job finishes, the long one goes back
        assert finished == ["short"]
        await transport.runner(slowish)
        events = await transport.until(
            long_job.job_id, "succeeded", within=transport.timing.patience + 3 * unit
        )
        await asyncio.sleep(unit)  # a duplicate run would show up here
        assert finished == ["short", "long"]
        assert [e.type for e in events].count("succeeded") == 1

    async def test_a_job_longer_than_lease_after_finishes_once(self, transport: RunnerTransport) -> None:
        t = transport.timing
        runs: list[str] = []

        async def past_the_lease(job: NerInput, ctx: JobContext) -> NerResult:
            runs.append(ctx.command.job_id)
            await asyncio.sleep(t.lease_after + t.lease_ttl)
            return await entities(job, ctx)

        await transport.runner(past_the_lease)
        command = await transport.submit()
        await transport.until(command.job_id, "succeeded", within=t.patience + t.lease_after + t.lease_ttl)
        await asyncio.sleep(2 * t.lease_ttl)  # the watchdog comes back and finds the lease done
        assert runs == [command.job_id]
        assert [e.type for e in transport.of(command.job_id)] == ["started", "succeeded"]

    async def test_a_leased_job_whose_worker_died_is_taken_over(self, transport: RunnerTransport) -> None:
        t = transport.timing
        runs: list[str] = []

        async def hangs_first_time(job: NerInput, ctx: JobContext) -> NerResult:
            runs.append(ctx.command.job_id)
            if len(runs) == 1:
                await asyncio.sleep(600)
            return await entities(job, ctx)

        first = await transport.runner(hangs_first_time)
        command = await transport.submit()
        await transport.until(command.job_id, "started")
        await asyncio.sleep(t.lease_after + t.lease_ttl / 2)  # acked, leased, the watchdog is out
        await transport.kill(first)
        await transport.runner(hangs_first_time)
        events = await transport.until(command.job_id, "succeeded", within=t.patience + 3 * t.lease_ttl)
        assert runs == [command.job_id, command.job_id]
        assert [e.type for e in events] == ["started", "started", "succeeded"]

    async def test_an_outcome_the_broker_cannot_take_is_redelivered(self, transport: RunnerTransport) -> None:
        runs: list[str] = []

        async def record(job: NerInput, ctx: JobContext) -> NerResult:
            runs.append(ctx.command.job_id)
            return await entities(job, ctx)

        transport.fail_next_publishes(1)  # `started` cannot be published: nothing ran yet
        await transport.runner(record)
        command = await transport.submit()
        events = await transport.until(command.job_id, "succeeded")
        assert [e.type for e in events] == ["started", "succeeded"]
        assert runs == [command.job_id]
