"""The runner's deferred `started` (`<PREFIX>_STARTED_EVENT_AFTER`, e.g. `NER_STARTED_EVENT_AFTER`):
a short attempt publishes one
terminal event carrying `started_at`; a longer one, or one that reports progress, retries or
is cancelled, publishes `started` (with the time it really started) first. Run on both
transports like `RunnerScenarios` (tests/unit/test_runner_in_memory.py,
tests/integration/test_runner_on_rabbitmq.py)."""

import asyncio
from datetime import UTC, datetime

from shared.schemas import NerInput, NerResult
from shared.schemas.lifecycle import seq_of
from shared.worker import JobContext, JobFailure, TransientError
from tests.support.runner_scenarios import entities
from tests.support.runner_transport import RunnerTransport

__all__ = ["ShortJobScenarios"]

WINDOW = 30.0
"""Longer than any scenario here runs: every attempt ends within it unless it says otherwise."""


class ShortJobScenarios:
    async def test_a_short_job_publishes_one_terminal_event_with_its_start(
        self, transport: RunnerTransport
    ) -> None:
        await transport.runner(entities, started_event_after=WINDOW)
        before = datetime.now(UTC)
        command = await transport.submit()
        events = await transport.until(command.job_id, "succeeded")
        assert [e.type for e in events] == ["succeeded"]
        done = events[0]
        assert done.seq == seq_of(1, 1)
        assert done.started_at is not None  # type: ignore[union-attr]
        assert before <= done.started_at <= done.at  # type: ignore[union-attr]

    async def test_a_short_failure_publishes_one_failed_with_its_start(
        self, transport: RunnerTransport
    ) -> None:
        async def refuse(job: NerInput, ctx: JobContext) -> NerResult:
            raise JobFailure("unsupported_language", "only English")

        await transport.runner(refuse, started_event_after=WINDOW)
        command = await transport.submit()
        events = await transport.until(command.job_id, "failed")
        assert [e.type for e in events] == ["failed"]
        assert events[0].started_at is not None  # type: ignore[union-attr]

    async def test_a_job_running_past_the_window_publishes_started_with_its_real_start(
        self, transport: RunnerTransport
    ) -> None:
        window = transport.timing.time_limit

        async def slow(job: NerInput, ctx: JobContext) -> NerResult:
            await asyncio.sleep(3 * window)
            return await entities(job, ctx)

        await transport.runner(slow, started_event_after=window)
        command = await transport.submit()
        events = await transport.until(command.job_id, "started")
        first_seen = datetime.now(UTC)
        within = transport.timing.patience + 3 * window
        events = await transport.until(command.job_id, "succeeded", within=within)
        assert [e.type for e in events] == ["started", "succeeded"]
        started, done = events
        assert started.at < first_seen
        assert (first_seen - started.at).total_seconds() >= 0.8 * window  # the start, not the announcement
        assert done.started_at is None  # type: ignore[union-attr]
        assert [e.seq for e in events] == [seq_of(1, 1), seq_of(1, 2)]

    async def test_progress_publishes_started_first(self, transport: RunnerTransport) -> None:
        async def reports(job: NerInput, ctx: JobContext) -> NerResult:
            await ctx.progress(0.5, "half")
            return await entities(job, ctx)

        await transport.runner(reports, started_event_after=WINDOW)
        command = await transport.submit()
        events = await transport.until(command.job_id, "succeeded")
        assert [e.type for e in events] == ["started", "progress", "succeeded"]
        assert events[-1].started_at is None  # type: ignore[union-attr]

    async def test_a_retried_attempt_publishes_started_before_retrying(
        self, transport: RunnerTransport
    ) -> None:
        async def flaky(job: NerInput, ctx: JobContext) -> NerResult:
            if ctx.command.attempt < 2:
                raise TransientError("provider_unavailable", "503")
            return await entities(job, ctx)

        await transport.runner(flaky, started_event_after=WINDOW)
        command = await transport.submit()
        events = await transport.until(command.job_id, "succeeded")
        assert [(e.type, e.attempt) for e in events] == [("started", 1), ("retrying", 1), ("succeeded", 2)]
        assert events[-1].started_at is not None  # type: ignore[union-attr]
        assert [e.seq for e in events] == sorted(e.seq for e in events)

    async def test_a_cancel_the_api_recorded_while_unannounced_publishes_nothing(
        self, transport: RunnerTransport
    ) -> None:
        running = asyncio.Event()

        async def until_cancelled(job: NerInput, ctx: JobContext) -> NerResult:
            if job.text == "wait":
                running.set()
                await asyncio.sleep(600)
            return await entities(job, ctx)

        await transport.runner(until_cancelled, started_event_after=WINDOW)
        command = await transport.submit("wait")
        await asyncio.wait_for(running.wait(), transport.timing.patience)
        # The job read `queued`, so the API cancelled it itself and published `cancelled`.
        await transport.request_cancel(command.job_id, recorded=True)
        later = await transport.submit("after")
        await transport.until(later.job_id, "succeeded")
        await asyncio.sleep(2 * transport.timing.cancel_poll_interval)
        assert transport.of(command.job_id) == []

    async def test_a_worker_killed_before_the_end_loses_nothing(self, transport: RunnerTransport) -> None:
        runs: list[str] = []
        running = asyncio.Event()

        async def hangs_first_time(job: NerInput, ctx: JobContext) -> NerResult:
            runs.append(ctx.command.job_id)
            running.set()
            if len(runs) == 1:
                await asyncio.sleep(600)
            return await entities(job, ctx)

        first = await transport.runner(hangs_first_time, started_event_after=WINDOW)
        command = await transport.submit()
        await asyncio.wait_for(running.wait(), transport.timing.patience)
        await transport.kill(first)  # nothing was published: the job still reads `queued`
        assert transport.of(command.job_id) == []
        await transport.runner(hangs_first_time, started_event_after=WINDOW)
        events = await transport.until(command.job_id, "succeeded", within=2 * transport.timing.patience)
        assert [e.type for e in events] == ["succeeded"]
        assert runs == [command.job_id, command.job_id]
