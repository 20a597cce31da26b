"""The job runner: takes deliveries of one job queue and settles every one of them.

- not JSON, not a valid job, unknown operation, invalid input, delivered too often:
  dead-lettered with the reason and the job it names failed (shared/worker/intake.py);
- cancelled before it started: `cancelled`, never started;
- ran: the outcome decides the action (shared/worker/policy.py): succeeded, failed,
  retried through a delay queue, cancelled within the poll interval, handed back;
- runs past `lease_after`: kept alive by a lease (shared/worker/lease.py);
- the broker or Redis cannot take the outcome: redelivered (at-least-once).

Domain code is `async def run(input, ctx) -> result` and must await between units of
work: cancelling its task is how cancellation, time limits and shutdown stop it.
"""

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from shared.identity import PublisherIdentities
from shared.schemas import failed_named_job
from shared.telemetry.tracing import consuming, error_reference
from shared.worker import policy
from shared.worker.config import OperationConfig, RunnerConfig
from shared.worker.context import JobContext
from shared.worker.errors import JobFailure
from shared.worker.intake import Job, Reject, admit
from shared.worker.lease import LeaseKeeper, owner_is_gone
from shared.worker.ports import (
    CancelControl,
    CancelState,
    CommandBus,
    Delivery,
    EventSink,
    ResultSink,
    Unavailable,
)

__all__ = ["JobRunner"]

log = logging.getLogger("shared.worker")


@dataclass
class _Attempt:
    job: Job
    task: asyncio.Task[BaseModel]
    lease: LeaseKeeper
    stop: Literal["cancel", "hand_back"] | None = None
    """Why the runner cancelled the task, if it did."""
    closed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class JobRunner:
    def __init__(
        self,
        queue: str,
        events: EventSink,
        bus: CommandBus,
        control: CancelControl,
        operations: Mapping[str, OperationConfig],
        config: RunnerConfig,
        identities: PublisherIdentities,
        *,
        jitter: Callable[[], float] = random.random,
        results: ResultSink | None = None,
    ) -> None:
        self.queue, self.operations, self.config = queue, operations, config
        self.results = results
        """Where results too large for an event go (None: all inline)."""
        self.events, self.bus, self.control = events, bus, control
        self.identities = identities
        """Who may name which tenant (shared/identity.py)."""
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        """Names this process in the leases it holds."""
        self._jitter = jitter
        self._running: dict[str, _Attempt] = {}
        self._draining = False
        self._poller: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self) -> None:
        self._poller = asyncio.create_task(self._poll_cancellations(), name="cancel-poller")

    async def handle(self, delivery: Delivery) -> None:
        with consuming(delivery, self.queue):  # continues the trace of whoever published it
            try:
                if self._draining:
                    await delivery.hand_back()
                    await delivery.ack()
                else:
                    await self._handle(delivery)
            except Unavailable as exc:
                log.warning(
                    "could not settle message %s (%s); it will be redelivered", delivery.message_id, exc
                )
                if not delivery.settled:
                    await delivery.redeliver()

    async def _handle(self, delivery: Delivery) -> None:
        verdict = admit(
            delivery.body, delivery.headers, delivery.user_id, self.operations, self.identities, self.queue
        )
        if isinstance(verdict, Reject):
            await self._reject(delivery, verdict)
            return
        job, ctx = verdict, JobContext(verdict.command, self.events, results=self.results)
        cancel = await self._cancel_state(job.command.job_id)
        if cancel is not None:
            if cancel == "requested":  # else the API has published it already
                await ctx.cancelled()
            await delivery.ack()
            return
        if job.watchdog and not await owner_is_gone(
            job.command, self.control, self.bus, self.config.lease_ttl
        ):
            await delivery.ack()
            return
        await self._run(delivery, job, ctx)

    async def _reject(self, delivery: Delivery, reject: Reject) -> None:
        """Dead-letter a message that cannot run; fail the job it names, if any."""
        log.warning("dead-lettering message %s: %s: %s", delivery.message_id, reject.code, reject.reason)
        if reject.names is not None:
            event = failed_named_job(reject.names, delivery.routing_key, reject.code, reject.reason)
            if event is not None:
                await self.events.publish_event(event)
        await delivery.dead_letter(reject.code, reject.reason)
        await delivery.ack()

    async def _cancel_state(self, job_id: str) -> CancelState:
        """Best effort while Redis is away: the job starts, and the poller stops it later.
        (Failing the delivery instead would count against its delivery limit.)"""
        try:
            return await self.control.cancel_state(job_id)
        except Unavailable as exc:
            log.warning("cannot check whether job %s was cancelled: %s", job_id, exc)
            return None

    async def _run(self, delivery: Delivery, job: Job, ctx: JobContext) -> None:
        # A job that ends within `started_event_after` publishes one terminal event carrying
        # its start time (one message, one confirm and one projection fewer per short job).
        await ctx.started(defer=self.config.started_event_after)
        lease = LeaseKeeper(job.command, delivery, self.control, self.bus, self.owner, self.config)
        attempt = _Attempt(job, asyncio.create_task(job.operation.handler(job.input, ctx)), lease)
        self._running[job.command.job_id] = attempt
        lease.start()
        try:
            outcome = await self._outcome(attempt)
            action = policy.decide(outcome, job.command.attempt, job.operation, self.config, self._jitter())
            await self._carry_out(action, attempt, ctx)
        finally:
            ctx.close()
            lease.stop()
            self._running.pop(job.command.job_id, None)
            attempt.closed.set()

    async def _outcome(self, attempt: _Attempt) -> policy.Outcome:
        command = attempt.job.command
        try:
            return await asyncio.wait_for(attempt.task, attempt.job.operation.time_limit)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this consumer itself is being torn down: the broker redelivers
            return "handed_back" if attempt.stop == "hand_back" else "cancelled"
        except JobFailure as exc:
            log.info("job %s attempt %d: %s: %s", command.job_id, command.attempt, exc.code, exc.message)
            return exc
        except TimeoutError as exc:
            return exc
        except Exception:
            reference = error_reference()
            log.exception("job %s crashed (trace %s)", command.job_id, reference)
            return policy.Crashed(reference)

    async def _carry_out(self, action: policy.Action, attempt: _Attempt, ctx: JobContext) -> None:
        command = attempt.job.command
        match action:
            case policy.Succeed(result):
                await ctx.succeeded(result)
            case policy.Retry(code, message, delay):
                log.info("job %s attempt %d: retrying in %.1fs", command.job_id, command.attempt, delay)
                await self.bus.publish_delayed(
                    command.model_copy(update={"attempt": command.attempt + 1}), delay
                )
                await ctx.retrying(datetime.now(UTC) + timedelta(seconds=delay), code, message)
            case policy.Fail(code, message):
                await ctx.failed(code, message)
                if isinstance(action, policy.FailAndDeadLetter):
                    await attempt.lease.delivery.dead_letter(code, message)
            case policy.Cancel():
                if ctx.start_unannounced and await self._cancel_state(command.job_id) == "recorded":
                    await ctx.forget_start()  # the API saw it queued and published its `cancelled`
                else:
                    await ctx.cancelled()
            case policy.HandBack():
                await ctx.forget_start()
                await attempt.lease.release()
                return
        await attempt.lease.finish()

    async def _poll_cancellations(self) -> None:
        while True:
            await asyncio.sleep(self.config.cancel_poll_interval)
            if not self._running:
                continue
            try:
                wanted = await self.control.cancelled(list(self._running))
            except Unavailable as exc:
                log.warning("cannot check for cancel requests: %s", exc)
                continue
            for job_id in wanted:
                attempt = self._running.get(job_id)
                if attempt is not None and attempt.stop is None:
                    log.info("job %s: cancel requested, stopping it", job_id)
                    attempt.stop = "cancel"
                    attempt.task.cancel()

    async def drain(self, grace: float) -> None:
        """Shutdown: take no new job, let running ones finish within `grace` seconds, hand
        the rest back (as new messages) so that another worker runs them."""
        self._draining = True
        if self._poller is not None:
            self._poller.cancel()
        pending = [a.task for a in self._running.values()]
        if pending:
            log.info("draining: waiting up to %.0fs for %d running jobs", grace, len(pending))
            await asyncio.wait(pending, timeout=grace)
        for attempt in list(self._running.values()):
            if not attempt.task.done():  # a finished one publishes its outcome itself
                attempt.stop = "hand_back"
                attempt.task.cancel()
        closing = [asyncio.create_task(a.closed.wait()) for a in self._running.values()]
        if closing:
            await asyncio.wait(closing, timeout=10)
