"""The API's own writes of job events: `queued`, applied to the read model at once (the
command itself is the job's `queued` record in the job history, which the projector folds
to the same event, a no-op twin), and cancel-while-queued `cancelled`, applied and published
to `job-events` (so it is in the history). Either way the caller sees its change in its
next request."""

import logging

from redis.exceptions import RedisError

from shared.control import JobControl
from shared.messaging import Publisher, PublishFailed
from shared.readmodel import JobStore
from shared.schemas import Cancelled, JobStatus, Queued
from shared.telemetry.recorder import record_job_event

__all__ = ["cancel_queued", "record_queued"]

log = logging.getLogger(__name__)


async def record_queued(store: JobStore, queued: Queued) -> None:
    """After the command's confirm: the job runs whatever happens here, and the history has its
    `queued` (the command). If Redis misses this write, the projector's fold of the command
    creates the record."""
    try:
        await store.apply(queued)
    except RedisError as exc:
        log.warning("job %s accepted but not yet recorded: %s", queued.job_id, exc)
    record_job_event(queued)


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
