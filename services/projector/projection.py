"""Folding job events into the read model, holding each event until Redis has it."""

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas import parse_event
from shared.schemas.topology import PROJECTOR_QUEUE
from shared.worker import describe_errors

__all__ = ["Projector"]

log = logging.getLogger(__name__)


class Projector:
    def __init__(self, store: JobStore, publisher: Publisher, *, max_delay: float) -> None:
        self.store = store
        self.publisher = publisher
        self._max_delay = max_delay

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Apply one event. An invalid event is dead-lettered with the reason; while Redis
        is unreachable the event is retried here, not acked and not requeued, so an outage
        neither loses events nor burns their delivery limit."""
        try:
            event = parse_event(message.body)
        except ValidationError as exc:
            reason = describe_errors(exc)
            log.warning("dead-lettering event %s: %s", message.message_id, reason)
            await self.publisher.dead_letter(PROJECTOR_QUEUE, message, "invalid_event", reason)
            return
        delay = 0.1
        while True:
            try:
                outcome = await self.store.apply(event)
                break
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("redis unavailable (%s); retrying event %s in %.1fs", exc, event.seq, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
        if outcome < 0:
            log.warning("event for job %s names tenant %r, not the job's", event.job_id, event.tenant)
