"""Folding job events into the read model, in batches, holding each event until Redis has it."""

import asyncio
import contextlib
import logging

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas import JobEvent, parse_event
from shared.schemas.topology import PROJECTOR_QUEUE
from shared.telemetry.metrics import PROJECTED
from shared.telemetry.tracing import consuming
from shared.worker import describe_errors

__all__ = ["Projector"]

log = logging.getLogger(__name__)

_OUTCOMES = {1: "applied", 0: "stale", -1: "refused"}


class Projector:
    """Applies events in batches: while one batch is in Redis, the next collects, and each
    batch is one round trip (a pipeline of compare-and-set scripts). One batch at a time,
    in arrival order, which is delivery order (handlers start in delivery order and queue
    their event before their first await): so an earlier event of a job is never skipped
    as stale because a later one overtook it."""

    def __init__(
        self, store: JobStore, publisher: Publisher, *, max_delay: float, max_batch: int = 256
    ) -> None:
        self.store = store
        self.publisher = publisher
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._waiting: list[tuple[JobEvent, asyncio.Future[int]]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def handle(self, message: AbstractIncomingMessage) -> None:
        with consuming(message, PROJECTOR_QUEUE.name):  # the trace of the job the event belongs to
            await self._handle(message)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        """Apply one event. An invalid event is dead-lettered with the reason; while Redis
        is unreachable the event is retried here, not acked and not requeued, so an outage
        neither loses events nor burns their delivery limit."""
        try:
            event = parse_event(message.body)
        except ValidationError as exc:
            reason = describe_errors(exc)
            log.warning("dead-lettering event %s: %s", message.message_id, reason)
            await self.publisher.dead_letter(PROJECTOR_QUEUE, message, "invalid_event", reason)
            PROJECTED.labels("invalid").inc()
            return
        outcome = await self.apply(event)
        PROJECTED.labels(_OUTCOMES[outcome]).inc()
        if outcome < 0:
            log.warning("event for job %s names tenant %r, not the job's", event.job_id, event.tenant)

    def apply(self, event: JobEvent) -> "asyncio.Future[int]":
        """The outcome of applying `event` (see `JobStore.apply`), once its batch is in Redis."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run_batches(), name="projector-batches")
        outcome: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, outcome))
        self._arrived.set()
        return outcome

    async def _run_batches(self) -> None:
        while True:
            await self._arrived.wait()
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            if not self._waiting:
                self._arrived.clear()
            for (_, outcome), result in zip(
                batch, await self._apply_batch([e for e, _ in batch]), strict=True
            ):
                if outcome.done():  # its handler was cancelled (shutdown)
                    continue
                if isinstance(result, Exception):
                    outcome.set_exception(result)
                else:
                    outcome.set_result(result)

    async def _apply_batch(self, events: list[JobEvent]) -> list[int | Exception]:
        delay = 0.1
        while True:
            try:
                return await self.store.apply_many(events)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("redis unavailable (%s); retrying %d events in %.1fs", exc, len(events), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
