"""The job context: the one object domain code gets from the platform."""

import asyncio
import contextlib
from datetime import UTC, datetime

from pydantic import BaseModel

from shared.schemas import JobCommand, JobTimeline, ResultRef
from shared.worker.ports import EventSink, ResultSink

__all__ = ["JobContext"]


class JobContext:
    """What domain code sees of the platform while it runs a job, and how the runner
    reports the job's events (made by its timeline, shared/schemas/lifecycle.py).

    `started` may be deferred (`started(defer=...)`): an attempt that ends within that time
    publishes one terminal event carrying `started_at` instead of `started` + the terminal
    one; one that runs longer, reports progress or retries publishes `started` first (with
    the time it really started)."""

    def __init__(
        self, command: JobCommand, events: EventSink, *, since: str = "", results: ResultSink | None = None
    ) -> None:
        """`since`: the job's last event, when not the one the command implies (a domain test
        starts from `started`, as the runner's handler does). `results`: where a large result
        goes (None: every result inline)."""
        self.command = command
        self._events = events
        self._results = results
        self._timeline = JobTimeline(command, since=since)
        self._unannounced: datetime | None = None
        """When the attempt started, while its `started` is not published (nor being)."""
        self._timer: asyncio.TimerHandle | None = None
        self._announcer: asyncio.Task[None] | None = None
        """Publishing the deferred `started` (once the timer fired)."""

    async def progress(self, fraction: float, message: str) -> None:
        await self.announce()
        await self._events.publish_event(self._timeline.progress(fraction, message))

    async def started(self, *, defer: float = 0.0) -> None:
        """The attempt starts now. With `defer` > 0, `started` is published only if the attempt
        is still running `defer` seconds later (or reports progress, or retries)."""
        if defer <= 0:
            await self._events.publish_event(self._timeline.started())
            return
        self._unannounced = datetime.now(UTC)
        # A timer, not a sleeping task per job: most attempts end before it fires.
        self._timer = asyncio.get_running_loop().call_later(defer, self._due)

    def _due(self) -> None:
        if self._unannounced is not None:
            self._announcer = asyncio.create_task(self._announce_now(), name="announce-started")

    async def _announce_now(self) -> None:
        at, self._unannounced = self._unannounced, None
        if at is not None:
            await self._events.publish_event(self._timeline.started(at))

    async def announce(self) -> None:
        """Publish the deferred `started` now, if it is still due (else nothing); wait for it
        if its timer is already publishing it."""
        if self._unannounced is not None:
            await self._stop_timer()
            await self._announce_now()
        elif self._announcer is not None:
            # Its publish is under way (let it finish) or done (raises if it failed).
            await asyncio.shield(self._announcer)

    async def unannounced_start(self) -> datetime | None:
        """Before the attempt's terminal event: when it started if `started` was never
        published (the terminal event then carries it), else None. Stops the timer; waits for
        a `started` already being published."""
        if self._unannounced is None:
            await self.announce()
            return None
        await self._stop_timer()
        at, self._unannounced = self._unannounced, None
        return at

    @property
    def start_unannounced(self) -> bool:
        """The attempt has started and its `started` is not published (nor being)."""
        return self._unannounced is not None

    def close(self) -> None:
        """The attempt is over, whatever happened: no `started` may follow."""
        self._unannounced = None
        if self._timer is not None:
            self._timer.cancel()
        if self._announcer is not None and not self._announcer.done():
            self._announcer.cancel()

    async def forget_start(self) -> None:
        """The attempt ends without an event of its own (handed back, or cancelled by the API
        before its `started` went out): publish no `started` either."""
        if self._unannounced is not None:
            self._unannounced = None
            await self._stop_timer()

    async def _stop_timer(self) -> None:
        """Only while `_unannounced` is set: nothing is published yet (a task the timer has
        started but that has not run yet is cancelled before it publishes)."""
        if self._timer is not None:
            self._timer.cancel()
        announcer, self._announcer = self._announcer, None
        if announcer is not None and not announcer.done():
            announcer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await announcer

    async def succeeded(self, result: BaseModel) -> None:
        started_at = await self.unannounced_start()
        if self._results is None:
            event = self._timeline.succeeded(result.model_dump(mode="json"), started_at=started_at)
        else:
            kept = await self._results.keep(self.command, result)
            if isinstance(kept, ResultRef):
                event = self._timeline.succeeded(ref=kept, started_at=started_at)
            else:
                event = self._timeline.succeeded(kept, started_at=started_at)
        await self._events.publish_event(event)

    async def failed(self, code: str, message: str) -> None:
        started_at = await self.unannounced_start()
        await self._events.publish_event(self._timeline.failed(code, message, started_at=started_at))

    async def retrying(self, next_attempt_at: datetime, code: str, message: str) -> None:
        await self.announce()
        await self._events.publish_event(self._timeline.retrying(next_attempt_at, code, message))

    async def cancelled(self) -> None:
        await self.announce()
        await self._events.publish_event(self._timeline.cancelled())
