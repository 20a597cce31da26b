"""How every worker service processes a job delivery, independent of the consumer framework.

The runner owns the delivery's acknowledgement on every path:

- not JSON, not a valid job, unknown operation, invalid input: dead-lettered with the
  reason (and the job it names, if any, failed), acked;
- delivered too often (the worker died on it again and again): failed `worker_crashed`,
  dead-lettered, acked;
- cancelled before it started: `cancelled`, acked, never started;
- ran: `succeeded`; `failed` (a `JobFailure`, a time limit, a crash of the handler); a
  `TransientError` is retried through a delay queue (never a sleep here) until the
  operation's last attempt; a cancel request stops it within the poll interval;
- runs past `lease_after`: acked early and kept alive by a lease in Redis plus a
  watchdog message in a delay queue, so the broker's consumer timeout never fires;
- the broker or Redis cannot take the outcome: nacked for redelivery (at-least-once).

Domain code is `async def run(input, ctx) -> result` and must await between units of
work: cancelling its task is how cancellation, time limits and shutdown stop it.
"""

import asyncio
import json
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from shared.control import JobControl
from shared.identity import PublisherIdentities
from shared.messaging import Publisher, PublishFailed
from shared.schemas import OPERATIONS, JobCommand, JobTimeline, failed_named_job
from shared.schemas.topology import DELIVERY_LIMIT, QueueSpec
from shared.telemetry.tracing import consuming

__all__ = [
    "JobContext",
    "JobFailure",
    "JobRunner",
    "OperationConfig",
    "OperationHandler",
    "RunnerConfig",
    "TransientError",
    "describe_errors",
]

log = logging.getLogger(__name__)

WATCHDOG_HEADER = "x-lease-watchdog"


class JobFailure(Exception):
    """A permanent failure of one job, with a stable code (e.g. `input_too_large`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransientError(JobFailure):
    """A failure worth another attempt later (a provider's 503, storage briefly away)."""


def describe_errors(exc: ValidationError, *prefix: str) -> str:
    """`input.text: Input should be a valid string; ...`: every error, with where it is."""
    return "; ".join(
        f"{'.'.join(str(p) for p in (*prefix, *err['loc'])) or '<root>'}: {err['msg']}"
        for err in exc.errors()
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _delivery_count(message: AbstractIncomingMessage) -> int:
    """Earlier deliveries of this message (quorum queues count every return)."""
    count = (message.headers or {}).get("x-delivery-count")
    return count if isinstance(count, int) else 0


class JobContext:
    """What domain code sees of the platform while it runs a job, and how the runner
    reports the job's events (made by its timeline, shared/schemas/lifecycle.py)."""

    def __init__(self, command: JobCommand, publisher: Publisher) -> None:
        self.command = command
        self._publisher = publisher
        self._timeline = JobTimeline(command)

    async def progress(self, fraction: float, message: str) -> None:
        await self._publisher.publish_event(self._timeline.progress(fraction, message))

    async def started(self) -> None:
        await self._publisher.publish_event(self._timeline.started())

    async def succeeded(self, result: BaseModel) -> None:
        await self._publisher.publish_event(self._timeline.succeeded(result.model_dump(mode="json")))

    async def failed(self, code: str, message: str) -> None:
        await self._publisher.publish_event(self._timeline.failed(code, message))

    async def retrying(self, next_attempt_at: datetime, code: str, message: str) -> None:
        await self._publisher.publish_event(self._timeline.retrying(next_attempt_at, code, message))

    async def cancelled(self) -> None:
        await self._publisher.publish_event(self._timeline.cancelled())


OperationHandler = Callable[[Any, JobContext], Coroutine[Any, Any, BaseModel]]
"""Domain entry point: (validated input model, context) -> result model."""


@dataclass(frozen=True)
class OperationConfig:
    handler: OperationHandler
    time_limit: float = 3600.0
    """Seconds one attempt may run before the job fails with `timeout`."""
    max_attempts: int = 3
    """Attempts in all when the handler raises `TransientError`."""


@dataclass(frozen=True)
class RunnerConfig:
    retry_base_delay: float = 1.0
    """Seconds before the 2nd attempt; doubles per attempt, with jitter (x0.5..1.0)."""
    retry_max_delay: float = 600.0
    cancel_poll_interval: float = 0.5
    """Seconds between checks for cancel requests of the jobs running here."""
    lease_after: float = 600.0
    """Seconds after which a running job's delivery is acked and a lease keeps it alive;
    must stay well below the broker's consumer_timeout (30 minutes by default)."""
    lease_ttl: float = 60.0
    """Seconds a lease lives without renewal; a dead owner's job restarts after about this."""


@dataclass
class _Running:
    task: asyncio.Task[BaseModel]
    message: AbstractIncomingMessage
    cancel_requested: bool = False
    handed_back: bool = False
    leased: bool = False
    keeper: asyncio.Task[None] | None = field(default=None, repr=False)
    settled: asyncio.Future[None] = field(default_factory=asyncio.Future, repr=False)
    closed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class JobRunner:
    def __init__(
        self,
        queue: QueueSpec,
        publisher: Publisher,
        control: JobControl,
        operations: Mapping[str, OperationConfig],
        config: RunnerConfig | None = None,
    ) -> None:
        self.queue = queue
        self.publisher = publisher
        self.control = control
        self.operations = operations
        self.config = config or RunnerConfig()
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._running: dict[str, _Running] = {}
        self._draining = False
        self._poller: asyncio.Task[None] | None = None
        self.identities = PublisherIdentities.from_settings()  # who may name which tenant (env)

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self) -> None:
        self._poller = asyncio.create_task(self._poll_cancellations(), name="cancel-poller")

    async def handle(self, message: AbstractIncomingMessage) -> None:
        with consuming(message, self.queue.name):  # continues the trace of whoever published it
            await self._deliver(message)

    async def _deliver(self, message: AbstractIncomingMessage) -> None:
        if self._draining:
            await self._settle(message, self.publisher.hand_back(message))
            return
        try:
            await self._handle(message)
        except (PublishFailed, RedisError, ConnectionError) as exc:
            # The outcome could not be recorded: let the broker deliver the job again.
            log.warning("could not settle message %s (%s); it will be redelivered", message.message_id, exc)
            if not message.processed:
                try:
                    await message.nack(requeue=True)
                except Exception as nack_error:  # channel gone: the broker requeues by itself
                    log.warning("nack failed: %s", nack_error)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            raw = json.loads(message.body)
        except (ValueError, UnicodeDecodeError) as exc:
            await self._reject(message, None, "malformed_json", f"body is not JSON: {exc}")
            return
        # Publisher identity (shared/identity.py): dead-letter only, never fail the job the
        # message names, since its sender may not speak for that job.
        refusal = self.identities.refusal(message.user_id, raw, message.headers)
        if refusal is not None:
            log.warning("refusing message %s: %s: %s", message.message_id, refusal.code, refusal.reason)
            dead_letter = self.publisher.dead_letter(self.queue, message, refusal.code, refusal.reason)
            await self._settle(message, dead_letter)
            return
        try:
            command = JobCommand.model_validate(raw)
        except ValidationError as exc:
            await self._reject(message, raw, "invalid_envelope", describe_errors(exc))
            return
        op = self.operations.get(command.operation)
        if op is None:
            known = ", ".join(sorted(self.operations))
            reason = f"operation {command.operation!r} is not served by {self.queue.name} ({known})"
            await self._reject(message, raw, "unknown_operation", reason)
            return
        try:
            job_input = OPERATIONS[command.operation].input_model.model_validate(command.input)
        except ValidationError as exc:
            await self._reject(message, raw, "invalid_input", describe_errors(exc, "input"))
            return
        deliveries = _delivery_count(message) + 1
        if deliveries >= DELIVERY_LIMIT:
            reason = f"delivered {deliveries} times without finishing: the worker died on it each time"
            await self._reject(message, raw, "worker_crashed", reason)
            return
        ctx = JobContext(command, self.publisher)
        if await self._cancel_requested(command.job_id):
            await ctx.cancelled()
            await message.ack()
            return
        if (message.headers or {}).get(WATCHDOG_HEADER) and not await self._owner_is_gone(command):
            await message.ack()
            return
        await self._run(message, command, op, job_input, ctx)

    async def _cancel_requested(self, job_id: str) -> bool:
        """Best effort while Redis is away: the job starts, and the poller stops it later.
        (Failing the delivery instead would count against its delivery limit.)"""
        try:
            return bool(await self.control.cancelled([job_id]))
        except (RedisError, ConnectionError) as exc:
            log.warning("cannot check whether job %s was cancelled: %s", job_id, exc)
            return False

    async def _owner_is_gone(self, command: JobCommand) -> bool:
        """A watchdog arrived: keep watching while the owner holds the lease; take the job
        over only if the lease lapsed before the job's outcome was published."""
        try:
            state = await self.control.lease_state(command.job_id)
        except (RedisError, ConnectionError) as exc:
            log.warning("cannot read the lease of job %s (%s): watching on", command.job_id, exc)
            state = "held"
        if state == "held":
            await self.publisher.publish_delayed(command, self.config.lease_ttl, headers={WATCHDOG_HEADER: 1})
        if state is None:
            log.warning("job %s lost its lease: taking it over", command.job_id)
        return state is None

    async def _run(
        self,
        message: AbstractIncomingMessage,
        command: JobCommand,
        op: OperationConfig,
        job_input: BaseModel,
        ctx: JobContext,
    ) -> None:
        await ctx.started()
        running = _Running(asyncio.create_task(op.handler(job_input, ctx)), message)
        running.keeper = asyncio.create_task(self._keep_lease(command, running))
        self._running[command.job_id] = running
        try:
            settle = await self._outcome(running, command, op, ctx)
            running.keeper.cancel()
            if not settle:  # handed back by drain(), which settles the delivery itself
                await running.settled
            elif running.leased:
                await self._finish_lease(command.job_id)
            else:
                await message.ack()
        finally:
            running.keeper.cancel()
            self._running.pop(command.job_id, None)
            running.closed.set()

    async def _outcome(
        self, running: _Running, command: JobCommand, op: OperationConfig, ctx: JobContext
    ) -> bool:
        """Await the job and publish how it ended; False when it was handed back."""
        try:
            result = await asyncio.wait_for(running.task, op.time_limit)
        except TimeoutError:
            await ctx.failed("timeout", f"the job ran over its time limit of {op.time_limit:g} s")
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this consumer itself is being torn down: the broker redelivers
            if running.handed_back:
                return False
            await ctx.cancelled()
        except TransientError as exc:
            await self._retry_or_fail(running.message, command, op, ctx, exc)
        except JobFailure as exc:
            log.info("job %s failed: %s: %s", command.job_id, exc.code, exc.message)
            await ctx.failed(exc.code, exc.message)
        except Exception as exc:
            log.exception("job %s crashed", command.job_id)
            reason = f"{type(exc).__name__}: {exc}"
            await ctx.failed("internal_error", reason)
            await self.publisher.dead_letter(self.queue, running.message, "internal_error", reason)
        else:
            await ctx.succeeded(result)
        return True

    async def _finish_lease(self, job_id: str) -> None:
        try:
            await self.control.finish_lease(job_id, self.config.lease_ttl * 3)
        except (RedisError, ConnectionError) as exc:
            # The outcome is published; a watchdog finding no lease reruns the job, and the
            # rerun's events are no-ops for the read model.
            log.warning("could not mark the lease of job %s done: %s", job_id, exc)

    async def _retry_or_fail(
        self,
        message: AbstractIncomingMessage,
        command: JobCommand,
        op: OperationConfig,
        ctx: JobContext,
        exc: TransientError,
    ) -> None:
        if command.attempt >= op.max_attempts:
            reason = f"{exc.message} (gave up after {command.attempt} attempts)"
            await ctx.failed(exc.code, reason)
            await self.publisher.dead_letter(self.queue, message, exc.code, reason)
            return
        cap = min(self.config.retry_max_delay, self.config.retry_base_delay * 2 ** (command.attempt - 1))
        delay = cap * random.uniform(0.5, 1.0)
        log.info("job %s attempt %d: %s; retrying in %.1fs", command.job_id, command.attempt, exc, delay)
        await self.publisher.publish_delayed(
            command.model_copy(update={"attempt": command.attempt + 1}), delay
        )
        await ctx.retrying(_now() + timedelta(seconds=delay), exc.code, exc.message)

    async def _keep_lease(self, command: JobCommand, running: _Running) -> None:
        """Past `lease_after`, trade the delivery for a lease plus a watchdog message."""
        ttl = self.config.lease_ttl
        await asyncio.sleep(self.config.lease_after)
        while True:
            try:
                await self.control.hold_lease(command.job_id, self.owner, ttl)
                if not running.leased:
                    await self.publisher.publish_delayed(command, ttl, headers={WATCHDOG_HEADER: 1})
                    await running.message.ack()
                    running.leased = True
                    log.info("job %s runs long: delivery acked, lease held", command.job_id)
            except (PublishFailed, RedisError, ConnectionError) as exc:
                log.warning("could not renew the lease of job %s: %s", command.job_id, exc)
            await asyncio.sleep(ttl / 3)

    async def _poll_cancellations(self) -> None:
        while True:
            await asyncio.sleep(self.config.cancel_poll_interval)
            if not self._running:
                continue
            try:
                wanted = await self.control.cancelled(list(self._running))
            except (RedisError, ConnectionError) as exc:
                log.warning("cannot check for cancel requests: %s", exc)
                continue
            for job_id in wanted:
                running = self._running.get(job_id)
                if running is not None and not running.cancel_requested:
                    log.info("job %s: cancel requested, stopping it", job_id)
                    running.cancel_requested = True
                    running.task.cancel()

    async def drain(self, grace: float) -> None:
        """Shutdown: take no new job, let running ones finish within `grace` seconds, hand
        the rest back (as new messages) so that another worker runs them."""
        self._draining = True
        if self._poller is not None:
            self._poller.cancel()
        pending = [r.task for r in self._running.values()]
        if pending:
            log.info("draining: waiting up to %.0fs for %d running jobs", grace, len(pending))
            await asyncio.wait(pending, timeout=grace)
        for job_id, running in list(self._running.items()):
            if running.task.done():
                continue  # finished in time: its own _run publishes the outcome and acks
            running.handed_back = True
            running.task.cancel()
            try:
                if running.leased:
                    await self.control.release_lease(job_id)
                else:
                    await self._settle(running.message, self.publisher.hand_back(running.message))
                log.info("job %s handed back for another worker", job_id)
            except (PublishFailed, RedisError, ConnectionError) as exc:
                log.warning("could not hand job %s back (%s): the broker will redeliver it", job_id, exc)
            finally:
                running.settled.set_result(None)
        closing = [asyncio.create_task(r.closed.wait()) for r in self._running.values()]
        if closing:
            await asyncio.wait(closing, timeout=10)

    async def _settle(self, message: AbstractIncomingMessage, publish: Awaitable[None]) -> None:
        await publish
        await message.ack()

    async def _reject(self, message: AbstractIncomingMessage, raw: Any, code: str, reason: str) -> None:
        """Dead-letter a message that cannot run; fail the job it names, if any."""
        log.warning("dead-lettering message %s: %s: %s", message.message_id, code, reason)
        if isinstance(raw, dict):
            await self._fail_named_job(raw, message.routing_key or "", code, reason)
        await self.publisher.dead_letter(self.queue, message, code, reason)
        await message.ack()

    async def _fail_named_job(self, raw: dict[str, Any], routing_key: str, code: str, reason: str) -> None:
        event = failed_named_job(raw, routing_key, code, reason)
        if event is not None:  # else the names are unusable: the dead letter is the record
            await self.publisher.publish_event(event)
