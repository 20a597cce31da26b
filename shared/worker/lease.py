"""Leases: how a job outlives the broker's consumer timeout.

Past `lease_after`, the delivery is acked and the job is kept alive by a lease in Redis,
renewed every third of its time to live, plus a watchdog copy of its command in a delay
queue. The watchdog comes back after a lease's lifetime: while the owner holds the
lease it goes round again; once the lease has lapsed (its owner died), the worker that
got the watchdog runs the job; a lease marked done means the outcome is published."""

import asyncio
import logging
from dataclasses import dataclass, field

from shared.schemas import JobCommand
from shared.worker.config import RunnerConfig
from shared.worker.ports import CancelControl, CommandBus, Delivery, Unavailable

__all__ = ["LeaseKeeper", "owner_is_gone"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class LeaseKeeper:
    """Owns how one running job's delivery ends: acked, or traded for a lease."""

    command: JobCommand
    delivery: Delivery
    control: CancelControl
    bus: CommandBus
    """Where the watchdog copy of the command goes."""
    owner: str
    config: RunnerConfig
    leased: bool = False
    """The delivery is acked; the lease in Redis keeps the job."""
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep(), name=f"lease-{self.command.job_id}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _keep(self) -> None:
        job_id, ttl = self.command.job_id, self.config.lease_ttl
        await asyncio.sleep(self.config.lease_after)
        while True:
            try:
                await self.control.hold_lease(job_id, self.owner, ttl)
                if not self.leased:
                    await self.bus.publish_delayed(self.command, ttl, watchdog=True)
                    await self.delivery.ack()
                    self.leased = True
                    log.info("job %s runs long: delivery acked, lease held", job_id)
            except Unavailable as exc:
                log.warning("could not renew the lease of job %s: %s", job_id, exc)
            await asyncio.sleep(ttl / 3)

    async def finish(self) -> None:
        """The outcome is published: ack the delivery, or mark the lease done."""
        self.stop()
        if not self.leased:
            await self.delivery.ack()
            return
        try:
            await self.control.finish_lease(self.command.job_id, self.config.lease_ttl * 3)
        except Unavailable as exc:
            # A watchdog finding no lease reruns the job; the rerun's events are no-ops
            # for the read model.
            log.warning("could not mark the lease of job %s done: %s", self.command.job_id, exc)

    async def release(self) -> None:
        """Shutdown: give the job to another worker (a new message, or the next watchdog)."""
        self.stop()
        job_id = self.command.job_id
        try:
            if self.leased:
                await self.control.release_lease(job_id)
            else:
                await self.delivery.hand_back()
                await self.delivery.ack()
            log.info("job %s handed back for another worker", job_id)
        except Unavailable as exc:
            log.warning("could not hand job %s back (%s): the broker will redeliver it", job_id, exc)


async def owner_is_gone(command: JobCommand, control: CancelControl, bus: CommandBus, ttl: float) -> bool:
    """A watchdog arrived: keep watching while the owner holds the lease; take the job
    over only if the lease lapsed before the job's outcome was published."""
    try:
        state = await control.lease_state(command.job_id)
    except Unavailable as exc:
        log.warning("cannot read the lease of job %s (%s): watching on", command.job_id, exc)
        state = "held"
    if state == "held":
        await bus.publish_delayed(command, ttl, watchdog=True)
    if state is None:
        log.warning("job %s lost its lease: taking it over", command.job_id)
    return state is None
