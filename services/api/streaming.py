"""Live job events for SSE and WebSocket clients.

One Redis subscription per API process (not one per stream) carries the ids of
changed jobs; each stream then reads what it has not sent yet from the job's event
log in Redis. The log, not the notification, is the source, so a lost notification
or a resumed stream (Last-Event-ID) can neither lose nor repeat an event.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.readmodel import UPDATES_CHANNEL, JobStore
from shared.schemas import TERMINAL_STATES

__all__ = ["StreamEvent", "TenantFeed", "UpdateHub", "job_events", "tenant_updates"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamEvent:
    type: str
    id: int
    data: dict[str, Any]


@dataclass(eq=False)  # compared and hashed by identity: one per open feed
class TenantFeed:
    """The ids of jobs that changed since the feed's reader last looked."""

    changed: set[str]
    wake: asyncio.Event

    MAX_PENDING = 10_000
    """Ids kept for a reader that falls behind; beyond it changes are dropped, not buffered."""


class UpdateHub:
    """Fans the `jobs:updates` channel out to the streams watching each job."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._feeds: set[TenantFeed] = set()
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
    def watch_all(self) -> Iterator[TenantFeed]:
        """Every job that changes, whoever it belongs to (the reader filters by tenant)."""
        feed = TenantFeed(set(), asyncio.Event())
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)

    def _notify(self, job_id: str) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()
        for feed in self._feeds:
            if len(feed.changed) < TenantFeed.MAX_PENDING:
                feed.changed.add(job_id)
            feed.wake.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()
        for feed in self._feeds:
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
) -> AsyncIterator[StreamEvent | None]:
    """A `snapshot` of the job (unless resuming after sequence number `after`), then every
    event in order until the terminal one. Yields None when idle for `keepalive` seconds.
    The caller has checked that the job exists and belongs to `tenant`."""
    with hub.watch(job_id) as wake:
        view = await store.get(tenant, job_id)
        if view is None:
            return
        if after is None:
            yield StreamEvent("snapshot", view.seq, view.model_dump(mode="json"))
            after = view.seq
        if view.status.terminal and view.seq <= after:
            return
        position = 0
        while True:
            wake.clear()
            events, position = await store.events_after(tenant, view, after, start=position)
            for seq, entry in events:
                after = seq
                if entry["type"] == "succeeded":
                    final = await store.get(tenant, job_id)
                    entry["result"] = final.result if final else None
                yield StreamEvent(entry["type"], seq, entry)
                if entry["type"] in TERMINAL_STATES:
                    return
            try:
                await asyncio.wait_for(wake.wait(), keepalive)
            except TimeoutError:
                if await store.get(tenant, job_id) is None:
                    return  # expired or deleted
                yield None


async def tenant_updates(
    store: JobStore, hub: UpdateHub, tenant: str, *, keepalive: float
) -> AsyncIterator[StreamEvent | None]:
    """The tenant's jobs as they change (each as a `job` event: the job without its result),
    for live lists. Yields None when idle for `keepalive` seconds. Each change costs one
    read per open feed, which suits dashboards, not thousands of listeners."""
    with hub.watch_all() as feed:
        while True:
            feed.wake.clear()
            changed, feed.changed = feed.changed, set()
            for job_id in changed:
                view = await store.get(tenant, job_id)
                if view is not None:
                    yield StreamEvent("job", view.seq, view.model_dump(mode="json", exclude={"result"}))
            if changed:
                continue
            try:
                await asyncio.wait_for(feed.wake.wait(), keepalive)
            except TimeoutError:
                yield None
