"""Reading the job history stream (`jobs.history`) into the read model, and rebuilding it.

A plain aio-pika stream consumer, not a Propan handler: a stream consumer needs the
`x-stream-offset` consumer argument, and this one must move it while running (re-read from
the first record when the read model was lost, from the read model's offset when Redis went
back in time), which Propan's fixed subscriptions cannot do. Its own connection, not a robust
one: a robust connection would restore the consumer at its first offset; this one resumes
after the last record the read model holds.

Loss is noticed on every batch (each apply checks the stored offset, history_store.py) and,
when no records come, by a check every `check_interval` seconds.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aiormq.exceptions import AMQPError, ChannelInvalidStateError
from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError

from services.projector.history_store import HistoryStore, Lost
from services.projector.projection import Projector, offset_of
from services.projector.rebuild import RebuildProgress
from shared.broker_cluster import connect_first
from shared.schemas.topology import HISTORY_STREAM

__all__ = ["HistoryReader", "stream_end"]

log = logging.getLogger(__name__)

FOLDED_OFFSET = Gauge("projector_history_offset", "Offset of the last history record folded into Redis.")
REBUILDS = Counter(
    "projector_rebuilds",
    "Replays of the job history into Redis, by reason (empty, lost, behind, requested, new_stream).",
    ["reason"],
)
Start = int | str
REPLAY_GATHER = 0.01
"""Seconds a replaying reader pauses to fill a batch (a live one takes what has arrived)."""


async def stream_end(
    connection: AbstractConnection, stream: str, idle: float = 0.3, limit: float = 2.0
) -> int | None:
    """The offset of the stream's newest record (None: empty): read from `last` (the newest
    chunk) until nothing more comes for `idle` seconds."""
    channel = await connection.channel()
    try:
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.get_queue(stream, ensure=False)
        newest: list[int] = []
        arrived = asyncio.Event()

        async def take(message: AbstractIncomingMessage) -> None:
            newest.append(offset_of(message))
            await message.ack()
            arrived.set()

        await queue.consume(take, arguments={"x-stream-offset": "last"})
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), idle)
            except TimeoutError:
                break
        return max(newest) if newest else None
    finally:
        await channel.close()


class HistoryReader:
    def __init__(
        self,
        url: str,
        projector: Projector,
        history: HistoryStore,
        *,
        prefetch: int,
        check_interval: float,
        max_delay: float,
        max_batch: int = 256,
        stream: str = HISTORY_STREAM.name,
    ) -> None:
        self.stream = stream
        self.url = url
        self.projector = projector
        self.history = history
        self.prefetch = prefetch
        self.check_interval = check_interval
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.applied: int | None = None
        """Offset of the last record this projector folded into the read model."""
        self.progress = RebuildProgress(history.redis)
        self._start: tuple[Start, str] | None = None
        """Where to read next and why, when it is not after `applied`."""

    async def run(self) -> None:
        """Read until cancelled; reconnect after a broker outage (resuming after `applied`)."""
        delay = 0.5
        while True:
            try:
                connection = await connect_first(
                    self.url, client_properties={"connection_name": "projector history"}
                )
            except (AMQPError, OSError) as exc:
                log.warning("history stream unreachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            delay = 0.5
            try:
                while True:
                    start, reason = await self._next_start(connection)
                    await self._read(connection, start, reason)
            except (AMQPError, ChannelInvalidStateError, ConnectionError, OSError) as exc:
                # ChannelInvalidStateError: the broker closed the channel under a batch (an ack
                # later than its consumer timeout while Redis was away), seen at the ack
                log.warning("history stream connection lost (%r); reconnecting", exc)
            except RedisError as exc:
                log.warning("redis unavailable while checking the history offset (%s)", exc)
                await asyncio.sleep(1)
            except Exception:
                # Never end quietly: a reader that stops leaves the read model behind for good.
                log.exception("the history reader failed; starting it again in 1 s")
                await asyncio.sleep(1)
            finally:
                await connection.close()

    async def _next_start(self, connection: AbstractConnection) -> tuple[Start, str]:
        if self._start is not None:
            start, reason = self._start
            self._start = None
        elif self.applied is not None:
            start, reason = self.applied + 1, ""
        else:
            stored = await self.history.stored_offset()
            start, reason = ("first", "empty") if stored is None else (stored + 1, "")
            if stored is not None:
                end = await stream_end(connection, self.stream)
                if end is None or end < stored:
                    # The read model has folded records this stream never had: a new stream
                    # (the broker's data was replaced). Resuming after `stored` would skip
                    # everything up to it, so the read model is refolded from the first.
                    log.warning(
                        "the read model is at history offset %d, past the stream's end (%s): "
                        "a new stream; rebuilding from its first record",
                        stored,
                        end,
                    )
                    await self.history.forget_offset()  # else it would never move down to ours
                    start, reason, stored = "first", "new_stream", None
            self.applied = stored
        if reason:
            REBUILDS.labels(reason).inc()
            target = await stream_end(connection, self.stream)
            await self.progress.begin(reason, start, target)
        return start, reason

    async def _lost(self, stored: int | None) -> None:
        """The read model lacks records this projector folded: read again from where it is."""
        if stored is None:
            reason = "requested" if await self.progress.requested() else "lost"
            log.warning("the read model has no history offset (%s): rebuilding it from the stream", reason)
            self.applied, self._start = None, ("first", reason)
        else:
            log.warning("the read model is at history offset %d, behind %s: re-reading", stored, self.applied)
            self.applied, self._start = stored, (stored + 1, "behind")

    async def _read(self, connection: AbstractConnection, start: Start, reason: str) -> None:
        """Fold records from `start` until the read model turns out lost or behind."""
        channel = await connection.channel()
        try:
            await channel.set_qos(prefetch_count=self.prefetch)
            queue = await channel.get_queue(self.stream, ensure=False)
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await queue.consume(inbox.put, arguments={"x-stream-offset": start})
            log.info("reading the job history from %s", start)
            loop = asyncio.get_running_loop()
            next_check = loop.time() + self.check_interval
            while True:
                batch: list[AbstractIncomingMessage] = []
                with contextlib.suppress(TimeoutError):
                    batch.append(await asyncio.wait_for(inbox.get(), max(0.0, next_check - loop.time())))
                if not batch and (channel.is_closed or connection.is_closed):
                    # a lost connection delivers nothing and raises nothing here: reconnect
                    raise ConnectionError("the history stream's connection is closed")
                await self._gather(inbox, batch)
                if batch and not await self._fold(batch):
                    return
                if loop.time() >= next_check:
                    next_check = loop.time() + self.check_interval
                    try:
                        stored = await self.history.stored_offset()
                    except RedisError as exc:  # unreachable: the next batch waits for it anyway
                        log.warning("could not check the read model's history offset: %s", exc)
                        continue
                    if self.applied is not None and (stored is None or stored < self.applied):
                        await self._lost(stored)
                        return
                    await self.progress.report(self.applied, force=True)
        finally:
            if not channel.is_closed:
                await channel.close()

    async def _gather(
        self, inbox: "asyncio.Queue[AbstractIncomingMessage]", batch: list[AbstractIncomingMessage]
    ) -> None:
        """Add what has arrived to `batch`. While replaying, pause once to let more arrive:
        records trickle in a few per socket read, and each batch costs a Redis round trip."""
        if batch and self.progress.running and inbox.qsize() < self.max_batch:
            await asyncio.sleep(REPLAY_GATHER)
        while batch and len(batch) < self.max_batch and not inbox.empty():
            batch.append(inbox.get_nowait())

    async def _fold(self, batch: Sequence[AbstractIncomingMessage]) -> bool:
        """Fold a batch; False when the read model turned out lost or behind (nothing applied)."""
        after = -1 if self.applied is None else self.applied
        fresh = [m for m in batch if offset_of(m) > after]  # a stream may start a little early
        if fresh:
            folded = await self.projector.fold(fresh, self.applied)
            if isinstance(folded, Lost):
                await self._lost(folded.stored)
                return False
            self.applied = folded
            FOLDED_OFFSET.set(folded)
            await self.progress.report(folded, records=len(fresh))
        await batch[-1].ack(multiple=True)
        return True
