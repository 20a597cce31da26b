"""Reading the job history stream (`jobs.history`) from this reader's stored offset.

A stream is read without taking anything away from other readers, so following every job
event costs no copy of each (a queue bound to `job-events` would be one). The offset of the
last handled record is kept in Redis (`jobs:history-offset:<reader>`), saved every
`save_every` seconds; after a restart the reader resumes after it, so it sees again at most
what it handled in those seconds, and handling an event twice is harmless.

Each event of a step (a job id with a `.`, as `<pipeline id>.<step id>`) is applied to the read
model first, with the projector's rules (compare-and-set, the publisher's identity checked),
and handed on after: so what a driver reads from the read model when it takes over a pipeline
already has every event the history handed on before (services/pipeline/driver.py).
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import redis_keys as keys
from shared.broker_cluster import connect_cluster
from shared.identity import PublisherIdentities
from shared.readmodel import JobStore
from shared.schemas import JobEvent, parse_event
from shared.schemas.topology import HISTORY_STREAM

__all__ = ["HistoryReader"]

log = logging.getLogger(__name__)


class HistoryReader:
    def __init__(
        self,
        url: str,
        redis: Redis,
        store: JobStore,
        on_event: Callable[[JobEvent], None],
        identities: PublisherIdentities,
        *,
        reader: str,
        own_user: str,
        prefetch: int = 500,
        save_every: float = 1.0,
    ) -> None:
        self._url, self._redis, self._store = url, redis, store
        self._on_event = on_event
        self._identities, self._own_user = identities, own_user
        self._reader, self._prefetch, self._save_every = reader, prefetch, save_every
        self._connection: AbstractRobustConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.offset: int | None = None
        """The last record handled."""
        self._saved: int | None = None
        self._order = asyncio.Lock()

    async def start(self) -> None:
        stored = await self._redis.get(keys.history_offset_key(self._reader))
        self.offset = self._saved = int(stored) if stored is not None else None
        start: Any = self.offset + 1 if self.offset is not None else "next"
        self._connection = await connect_cluster(
            self._url, client_properties={"connection_name": f"{self._reader}-history"}
        )
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)  # a stream consumer needs one
        stream = await channel.get_queue(HISTORY_STREAM.name, ensure=True)
        log.info("reading %s from offset %s", HISTORY_STREAM.name, start)
        await stream.consume(self._handle, arguments={"x-stream-offset": start})
        self._tasks.append(asyncio.create_task(self._keep_offset(), name="history-offset"))

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        # aio-pika runs one callback per message as its own task; handing events on in stream
        # order needs one at a time (the lock is fair: tasks get it in delivery order).
        async with self._order:
            await self._handle_in_order(message)

    async def _handle_in_order(self, message: AbstractIncomingMessage) -> None:
        event = self._step_event(message)
        if event is not None:
            await self._apply(event)
            self._on_event(event)
        offset = (message.headers or {}).get("x-stream-offset")
        if isinstance(offset, int):
            self.offset = offset
        await message.ack()

    def _step_event(self, message: AbstractIncomingMessage) -> JobEvent | None:
        if not (message.type or "").startswith("job.") or message.type == "job.command":
            return None  # a job command, or a record that is no job event
        try:
            event = parse_event(message.body)
        except ValidationError:
            return None  # the projector dead-letters it; nothing for a pipeline
        if "." not in event.job_id:
            return None
        if self._identities.event_refusal(message.user_id, event.type, own_user=self._own_user) is not None:
            return None  # the projector refuses it too
        return event

    async def _apply(self, event: JobEvent) -> None:
        delay = 0.1
        while True:
            try:
                await self._store.apply(event)
                return
            except (RedisError, OSError) as exc:
                log.warning("redis unavailable (%s); retrying event of %s in %.1fs", exc, event.job_id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _keep_offset(self) -> None:
        while True:
            await asyncio.sleep(self._save_every)
            with contextlib.suppress(RedisError, OSError):
                await self.save_offset()

    async def save_offset(self) -> None:
        if self.offset is not None and self.offset != self._saved:
            await self._redis.set(keys.history_offset_key(self._reader), self.offset)
            self._saved = self.offset

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(RedisError, OSError):
            await self.save_offset()
        if self._connection is not None:
            await self._connection.close()
