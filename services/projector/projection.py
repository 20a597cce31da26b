"""Folding the job history into the read model: each stream record read as a job fact (a
command folds to its `queued` event, an event as it is), a batch at a time, holding the batch
until Redis has it; and failing the jobs of commands the broker dead-lettered."""

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.projector.history_store import HistoryStore, LedgerEntry, Lost
from shared.identity import PublisherIdentities
from shared.messaging import Publisher
from shared.schemas import JobCommand, JobEvent, JobTimeline, parse_event
from shared.schemas.commands import (
    IDEMPOTENCY_EXPIRES_HEADER,
    IDEMPOTENCY_FINGERPRINT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
)
from shared.schemas.topology import HISTORY_STREAM, JOBS_EXCHANGE
from shared.telemetry.metrics import PROJECTED
from shared.telemetry.tracing import consuming
from shared.worker import describe_errors

__all__ = ["Fact", "Projector", "read_record"]

log = logging.getLogger(__name__)

_OUTCOMES = {1: "applied", 0: "stale", -1: "refused"}


@dataclass(frozen=True)
class Fact:
    """What one history record says about a job: its event (a command's is `queued`), and the
    Idempotency-Key binding an accepted command carries."""

    event: JobEvent | None
    ledger: LedgerEntry | None = None


def offset_of(message: AbstractIncomingMessage) -> int:
    offset = (message.headers or {}).get("x-stream-offset")
    if not isinstance(offset, int):
        raise ValueError(f"record {message.message_id} has no x-stream-offset header")
    return offset


def read_record(message: AbstractIncomingMessage, identities: PublisherIdentities, own_user: str) -> Fact:
    """The fact a record states. A record that is invalid or whose publisher may not state it
    (shared/identity.py) states nothing: a stream cannot dead-letter, so it is skipped,
    counted and logged (every replay sees it again). A command of a later attempt (a retry
    coming back through `jobs`) states nothing new."""
    headers = message.headers or {}
    if message.exchange == JOBS_EXCHANGE:
        try:
            raw = json.loads(message.body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _skip(message, "invalid", f"command is not JSON: {exc}")
        refusal = identities.refusal(message.user_id, raw, headers)
        if refusal is not None:  # the worker dead-letters it; the job is left alone
            return _skip(message, "forged", f"{refusal.code}: {refusal.reason}")
        try:
            command = JobCommand.model_validate(raw)
        except ValidationError as exc:
            return _skip(message, "invalid", describe_errors(exc))
        if command.attempt != 1:
            return Fact(None)
        return Fact(JobTimeline.new(command).queued(), _ledger(command, headers))
    try:
        event = parse_event(message.body)
    except ValidationError as exc:
        return _skip(message, "invalid", describe_errors(exc))
    refusal = identities.event_refusal(message.user_id, event.type, own_user=own_user)
    if refusal is not None:  # the job is left alone: its sender may not speak for it
        return _skip(message, "forged", f"{refusal.code}: {refusal.reason}")
    return Fact(event)


def _skip(message: AbstractIncomingMessage, outcome: str, reason: str) -> Fact:
    log.warning("skipping history record %s (%s): %s", message.message_id, outcome, reason)
    PROJECTED.labels(outcome).inc()
    return Fact(None)


def _ledger(command: JobCommand, headers: Mapping[str, Any]) -> LedgerEntry | None:
    key, digest = (
        _text(headers.get(IDEMPOTENCY_KEY_HEADER)),
        _text(headers.get(IDEMPOTENCY_FINGERPRINT_HEADER)),
    )
    expires = headers.get(IDEMPOTENCY_EXPIRES_HEADER)
    if not (key and digest and isinstance(expires, int | float)):
        return None
    return LedgerEntry(command.tenant, key, command.job_id, digest, float(expires))


class Projector:
    """Folds batches of history records in stream order, one batch at a time: an earlier event
    of a job is never skipped as stale because a later one overtook it, so each job's event
    log is complete and in order (SSE resume reads it)."""

    def __init__(
        self,
        history: HistoryStore,
        publisher: Publisher,
        *,
        max_delay: float,
        identities: PublisherIdentities,
    ) -> None:
        self.history = history
        self.publisher = publisher
        self.identities = identities
        """Who may publish which event, and name which tenant on a dead-lettered command."""
        self._max_delay = max_delay

    async def fold(self, records: Sequence[AbstractIncomingMessage], after: int | None) -> int | Lost:
        """Fold `records` (consecutive, in stream order) into Redis with the offset of the last
        one; that offset, or `Lost`. While Redis is unreachable the batch is retried here."""
        events: list[JobEvent] = []
        ledger: list[LedgerEntry] = []
        for message in records:
            with consuming(message, HISTORY_STREAM.name):  # the trace of the job the record belongs to
                fact = read_record(message, self.identities, self.publisher.user_id)
            if fact.event is not None:
                events.append(fact.event)
            if fact.ledger is not None:
                ledger.append(fact.ledger)
        offset = offset_of(records[-1])
        delay = 0.1
        while True:
            try:
                outcomes = await self.history.fold(events, ledger, after=after, offset=offset)
                break
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("redis unavailable (%s); retrying %d records in %.1fs", exc, len(records), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
        if isinstance(outcomes, Lost):
            return outcomes
        for event, outcome in zip(events, outcomes, strict=True):
            if isinstance(outcome, Exception):
                log.error("event %s:%s not applied: %s", event.job_id, event.seq, outcome)
                PROJECTED.labels("error").inc()
                continue
            PROJECTED.labels(_OUTCOMES[outcome]).inc()
            if outcome < 0:
                log.warning("event for job %s names tenant %r, not the job's", event.job_id, event.tenant)
        return offset

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
    return value.decode() if isinstance(value, bytes) else "" if value is None else str(value)
