"""Folding job events into the read model, holding each event until Redis has it."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

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

__all__ = ["KeyedLocks", "Projector"]

log = logging.getLogger(__name__)

_OUTCOMES = {1: "applied", 0: "stale", -1: "refused"}


class KeyedLocks:
    """One FIFO lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Projector:
    def __init__(self, store: JobStore, publisher: Publisher, *, max_delay: float) -> None:
        self.store = store
        self.publisher = publisher
        self._max_delay = max_delay
        self._locks = KeyedLocks()

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
        # Events of one job are applied one at a time, in delivery order (asyncio locks are
        # FIFO and handlers start in delivery order), so that an earlier event is never
        # skipped as stale because a later one overtook it on another Redis connection.
        async with self._locks.hold(event.job_id):
            outcome = await self._apply(event)
        PROJECTED.labels(_OUTCOMES[outcome]).inc()
        if outcome < 0:
            log.warning("event for job %s names tenant %r, not the job's", event.job_id, event.tenant)

    async def _apply(self, event: JobEvent) -> int:
        delay = 0.1
        while True:
            try:
                return await self.store.apply(event)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("redis unavailable (%s); retrying event %s in %.1fs", exc, event.seq, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
