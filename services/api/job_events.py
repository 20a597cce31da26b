"""The API's own job events (`queued`, cancel-while-queued `cancelled`): published to
`job-events` like every writer's, so the read model can be rebuilt from the broker, and
applied to the read model at once, so the caller sees its change in its next request.
The projector applies the same event again later: the same number, so a no-op."""

import asyncio
import logging

from redis.exceptions import RedisError

from shared.control import JobControl
from shared.messaging import Publisher, PublishFailed
from shared.readmodel import JobStore
from shared.schemas import Cancelled, JobStatus, Queued
from shared.telemetry.recorder import record_job_event

__all__ = ["cancel_queued", "record_queued"]

log = logging.getLogger(__name__)


async def record_queued(publisher: Publisher, store: JobStore, queued: Queued) -> None:
    """After the command's confirm: the job runs whatever happens here. Publish and apply
    run concurrently (submit latency); if Redis misses the write the worker's first event
    creates the record, if the broker misses the event the read model still has it."""
    published, applied = await asyncio.gather(
        publisher.publish_event(queued), store.apply(queued), return_exceptions=True
    )
    if isinstance(applied, RedisError):
        log.warning("job %s accepted but not yet recorded: %s", queued.job_id, applied)
    elif isinstance(applied, BaseException):
        raise applied
    if isinstance(published, PublishFailed):
        log.warning("job %s accepted, its queued event is not on the broker: %s", queued.job_id, published)
        record_job_event(queued)  # publish_event records only what the broker confirmed
    elif isinstance(published, BaseException):
        raise published


async def cancel_queued(
    publisher: Publisher, store: JobStore, control: JobControl, cancelled: Cancelled
) -> None:
    """Cancel a job that is still waiting, unless it started meanwhile (then its worker ends
    it `cancelled` at its next step). Applied first, published only if it applied: the
    broker then holds exactly the change the read model made."""
    if await store.apply(cancelled, only_if=JobStatus.queued) != 1:
        return
    try:
        await publisher.publish_event(cancelled)
        await control.mark_cancel_recorded(cancelled.job_id)
    except PublishFailed as exc:
        # The worker that takes the job's command publishes its own `cancelled`.
        log.warning("job %s cancelled, its cancelled event is not on the broker: %s", cancelled.job_id, exc)
        record_job_event(cancelled)
