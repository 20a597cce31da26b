"""Folding job events into the read model, in batches, holding each event until Redis has it."""

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.batching import MicroBatcher
from shared.identity import PublisherIdentities
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas import JobCommand, JobEvent, JobTimeline, parse_event
from shared.schemas.topology import PROJECTOR_QUEUE
from shared.telemetry.metrics import PROJECTED
from shared.telemetry.tracing import consuming
from shared.worker import describe_errors

__all__ = ["Projector"]

log = logging.getLogger(__name__)

_OUTCOMES = {1: "applied", 0: "stale", -1: "refused"}


class Projector:
    """Applies events in batches (shared/batching.py): while one batch is in Redis, the next
    collects, and each batch is one round trip (a pipeline of compare-and-set scripts). One
    batch at a time, in arrival order, which is delivery order (handlers start in delivery
    order and queue their event before their first await): so an earlier event of a job is
    never skipped as stale because a later one overtook it."""

    def __init__(
        self,
        store: JobStore,
        publisher: Publisher,
        *,
        max_delay: float,
        identities: PublisherIdentities,
        max_batch: int = 256,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.identities = identities
        """Who may publish which event, and name which tenant on a dead-lettered command."""
        self._max_delay = max_delay
        self._batcher: MicroBatcher[JobEvent, int] = MicroBatcher(
            self._apply_batch, max_batch=max_batch, max_wait=0
        )

    async def handle(self, message: AbstractIncomingMessage) -> None:
        with consuming(message, PROJECTOR_QUEUE.name):  # the trace of the job the event belongs to
            await self._handle(message)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        """Apply one event. An invalid event, or one from a broker user that may not publish
        it (shared/identity.py), is dead-lettered with the reason; while Redis is unreachable
        the event is retried here, not acked and not requeued, so an outage neither loses
        events nor burns their delivery limit."""
        try:
            event = parse_event(message.body)
        except ValidationError as exc:
            reason = describe_errors(exc)
            log.warning("dead-lettering event %s: %s", message.message_id, reason)
            await self.publisher.dead_letter(PROJECTOR_QUEUE, message, "invalid_event", reason)
            PROJECTED.labels("invalid").inc()
            return
        refusal = self.identities.event_refusal(message.user_id, event.type, own_user=self.publisher.user_id)
        if refusal is not None:  # the job is left alone: its sender may not speak for it
            log.warning("dead-lettering event %s: %s: %s", message.message_id, refusal.code, refusal.reason)
            await self.publisher.dead_letter(PROJECTOR_QUEUE, message, refusal.code, refusal.reason)
            PROJECTED.labels("forged").inc()
            return
        outcome = await self.apply(event)
        PROJECTED.labels(_OUTCOMES[outcome]).inc()
        if outcome < 0:
            log.warning("event for job %s names tenant %r, not the job's", event.job_id, event.tenant)

    async def dead_lettered(self, message: AbstractIncomingMessage) -> None:
        """A job command was dead-lettered. A worker that did so has decided the job's fate
        and said why (`x-error-code`); one the broker dead-lettered on its own (its delivery
        limit, a consumer's reject) would leave the job queued or running forever: it ends
        `failed` with code `dead_lettered`, published as any worker's event would be."""
        headers = message.headers or {}
        if "x-error-code" in headers:
            return
        try:
            raw = json.loads(message.body)
            command = JobCommand.model_validate(raw)
        except (ValueError, ValidationError):
            log.warning("dead-lettered message %s is no job command: nothing to fail", message.message_id)
            return
        if self.identities.refusal(message.user_id, raw, headers) is not None:
            return  # its publisher may not speak for that job: leave the job alone
        why = _death(headers)
        log.warning("the broker dead-lettered job %s (%s): failing it", command.job_id, why)
        failed = JobTimeline(command).dead_lettered(
            "dead_lettered",
            f"the broker dead-lettered the job's message ({why}); a copy is in its queue's dead-letter queue",
        )
        await self.publisher.publish_event(failed)

    async def apply(self, event: JobEvent) -> int:
        """The outcome of applying `event` (see `JobStore.apply`), once its batch is in Redis."""
        return await self._batcher.submit(event)

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
        await self._batcher.close()


def _death(headers: Mapping[str, Any]) -> str:
    """`reason` from `queue` (after n deliveries), from the broker's `x-death` header."""
    deaths = headers.get("x-death")
    first = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}
    reason = _text(first.get("reason") or headers.get("x-first-death-reason") or "unknown reason")
    queue = _text(first.get("queue") or headers.get("x-first-death-queue") or "its queue")
    deliveries = headers.get("x-delivery-count")
    after = f" after {deliveries + 1} deliveries" if isinstance(deliveries, int) else ""
    return f"{reason} from {queue}{after}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
