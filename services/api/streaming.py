"""Live job events for SSE and WebSocket clients.

One Redis subscription per API process (not one per stream) carries `<tenant> <job id>`
of each changed job; each stream then reads what it has not sent yet from the job's
event log in Redis, in one round trip (`JobStore.since`). The log, not the notification,
is the source, so a lost notification or a resumed stream (Last-Event-ID) can neither
lose nor repeat an event. A tenant's feed drops other tenants' notices without a read.

When the subscription's connection drops (Redis restarted, or a Sentinel fail-over to
another server), it is made again, by redis-py's reconnect or by `_listen`; each time the
server confirms the subscription the hub's `epoch` moves on and every stream reads again:
a job's stream from the start of the job's log (filtered by number: a promoted replica may
lack the last writes of the old master, so the log may have gone back in time, and its
position is no longer trusted), a tenant's feed the tenant's newest jobs (`RESYNC_JOBS`).
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.readmodel import JobStore
from shared.redis_keys import UPDATES_CHANNEL, parse_update
from shared.schemas import is_terminal
from shared.schemas.streams import JobSince, StreamItem

__all__ = ["RESYNC_JOBS", "TenantFeed", "UpdateHub", "job_events", "tenant_updates"]

RESYNC_JOBS = 100
"""A tenant's newest jobs a live feed sends again after the subscription was lost."""
RETRY_SECONDS = 0.5
"""Between reads of a stream while Redis is unavailable (each sends a keep-alive)."""
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)

log = logging.getLogger(__name__)


@dataclass(eq=False)  # compared and hashed by identity: one per open feed
class TenantFeed:
    """The ids of the tenant's jobs that changed since the feed's reader last looked."""

    changed: set[str]
    wake: asyncio.Event
    epoch: int
    """The hub's epoch when the reader last caught up."""

    MAX_PENDING = 10_000
    """Ids kept for a reader that falls behind; beyond it changes are dropped, not buffered."""


class UpdateHub:
    """Fans the `jobs:updates` channel out to the streams watching each job."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._feeds: defaultdict[str, set[TenantFeed]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.epoch = 0
        """Subscriptions confirmed so far: a stream that saw another number may have missed notices."""

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
        feed = TenantFeed(set(), asyncio.Event(), self.epoch)
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

    def _resubscribed(self) -> None:
        """Anything may have changed while nothing was listening: every stream reads again."""
        self.epoch += 1
        self._wake_all()

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
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(UPDATES_CHANNEL)
                    while True:  # bounded reads, so a socket timeout never looks like an outage
                        message = await pubsub.get_message(timeout=1.0)
                        if message is None:
                            continue
                        if message["type"] == "message":
                            self._notify(message["data"])
                        elif message["type"] == "subscribe":  # first, or again after a reconnect
                            self._resubscribed()
                            delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: streams keep polling on keep-alive
                log.warning("update subscription lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)  # short: streams catch up only once it is back


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
        epoch = hub.epoch
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
            idle = not await _woken(wake, keepalive)
            while True:  # while Redis is unavailable (restarting, failing over) the stream waits
                current = hub.epoch
                position = read.position if current == epoch else 0  # see the module's docstring
                try:
                    again = await store.since(tenant, job_id, after, position)
                    break
                except UNAVAILABLE:
                    yield None
                    await asyncio.sleep(RETRY_SECONDS)
            epoch = current
            if again is None:
                return  # expired or deleted
            read = again
            if idle and not read.events:
                yield None


async def tenant_updates(
    store: JobStore, hub: UpdateHub, tenant: str, *, keepalive: float
) -> AsyncIterator[StreamItem | None]:
    """The tenant's jobs as they change (each as a `job` item: the job without its result),
    for live lists. Yields None when idle for `keepalive` seconds. Only the tenant's own
    changes reach the feed, and each wake reads every changed job in one round trip."""
    with hub.watch_tenant(tenant) as feed:
        changed: set[str] = set()
        while True:
            feed.wake.clear()
            changed |= feed.changed
            feed.changed = set()
            current = hub.epoch
            try:
                if feed.epoch != current:  # the subscription was lost: the newest jobs again
                    newest, _ = await store.list(tenant, limit=RESYNC_JOBS)
                    changed |= {view.id for view in newest}
                views = await store.views(tenant, sorted(changed)) if changed else []
            except UNAVAILABLE:
                yield None
                await asyncio.sleep(RETRY_SECONDS)
                continue
            feed.epoch = current
            if changed:
                changed = set()
                for view in views:
                    yield StreamItem.changed(view)
                continue
            if not await _woken(feed.wake, keepalive):
                yield None


async def _woken(event: asyncio.Event, within: float) -> bool:
    """Whether `event` was set within `within` seconds (cleared again either way)."""
    try:
        await asyncio.wait_for(event.wait(), within)
        return True
    except TimeoutError:
        return False
    finally:
        event.clear()
