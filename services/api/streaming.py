"""Live job events for SSE and WebSocket clients.

One Redis subscription per API process (not one per stream) carries `<tenant> <job id>`
of each changed job; each stream then reads what it has not sent yet from the job's
event log in Redis, in one round trip (`JobStore.since`). The log, not the notification,
is the source, so a lost notification or a resumed stream (Last-Event-ID) can neither
lose nor repeat an event. A tenant's feed drops other tenants' notices without a read.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from redis.asyncio import Redis

from shared.readmodel import JobStore
from shared.redis_keys import UPDATES_CHANNEL, parse_update
from shared.schemas import is_terminal
from shared.schemas.streams import JobSince, StreamItem

__all__ = ["TenantFeed", "UpdateHub", "job_events", "tenant_updates"]

log = logging.getLogger(__name__)


@dataclass(eq=False)  # compared and hashed by identity: one per open feed
class TenantFeed:
    """The ids of the tenant's jobs that changed since the feed's reader last looked."""

    changed: set[str]
    wake: asyncio.Event

    MAX_PENDING = 10_000
    """Ids kept for a reader that falls behind; beyond it changes are dropped, not buffered."""


class UpdateHub:
    """Fans the `jobs:updates` channel out to the streams watching each job."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._feeds: defaultdict[str, set[TenantFeed]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    @property
    def open_streams(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="update-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiters[job_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters[job_id]
            waiters.discard(event)
            if not waiters:
                del self._waiters[job_id]

    @contextlib.contextmanager
    def watch_tenant(self, tenant: str) -> Iterator[TenantFeed]:
        """Every job of `tenant` that changes."""
        feed = TenantFeed(set(), asyncio.Event())
        self._feeds[tenant].add(feed)
        try:
            yield feed
        finally:
            feeds = self._feeds[tenant]
            feeds.discard(feed)
            if not feeds:
                del self._feeds[tenant]

    def _notify(self, notice: str) -> None:
        tenant, job_id = parse_update(notice)
        for event in self._waiters.get(job_id, ()):
            event.set()
        for feed in self._feeds.get(tenant, ()):
            if len(feed.changed) < TenantFeed.MAX_PENDING:
                feed.changed.add(job_id)
            feed.wake.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()
        for feeds in self._feeds.values():
            for feed in feeds:
                feed.wake.set()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(UPDATES_CHANNEL)
                    self._wake_all()  # anything may have changed while we were not listening
                    delay = 0.1
                    while True:  # bounded reads, so a socket timeout never looks like an outage
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            self._notify(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: streams keep polling on keep-alive
                log.warning("update subscription lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


async def job_events(
    store: JobStore,
    hub: UpdateHub,
    tenant: str,
    job_id: str,
    *,
    after: int | None,
    keepalive: float,
    first: JobSince | None = None,
) -> AsyncIterator[StreamItem | None]:
    """A `snapshot` of the job (unless resuming after sequence number `after`), then every
    event in order until the terminal one. Yields None when idle for `keepalive` seconds.
    `first` is the caller's read of the job (`store.since(tenant, job_id, after)`), if any."""
    with hub.watch(job_id) as wake:
        read = first or await store.since(tenant, job_id, after)
        if read is None:
            return
        if after is None:
            yield StreamItem.snapshot(read.job)
            after = read.job.seq
        while True:
            for event in read.events:
                if event.seq > after:
                    after = event.seq
                    yield StreamItem.of(event)
                    if is_terminal(event.type):
                        return
            if read.job.status.terminal and read.job.seq <= after:
                return
            try:
                await asyncio.wait_for(wake.wait(), keepalive)
                idle = False
            except TimeoutError:
                idle = True
            wake.clear()
            read = await store.since(tenant, job_id, after, read.position)
            if read is None:
                return  # expired or deleted
            if idle and not read.events:
                yield None


async def tenant_updates(
    store: JobStore, hub: UpdateHub, tenant: str, *, keepalive: float
) -> AsyncIterator[StreamItem | None]:
    """The tenant's jobs as they change (each as a `job` item: the job without its result),
    for live lists. Yields None when idle for `keepalive` seconds. Only the tenant's own
    changes reach the feed, and each wake reads every changed job in one round trip."""
    with hub.watch_tenant(tenant) as feed:
        while True:
            feed.wake.clear()
            changed, feed.changed = feed.changed, set()
            if changed:
                for view in await store.views(tenant, sorted(changed)):
                    yield StreamItem.changed(view)
                continue
            try:
                await asyncio.wait_for(feed.wake.wait(), keepalive)
            except TimeoutError:
                yield None
