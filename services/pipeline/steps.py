"""The driver's `StepPort` on the real infrastructure: the confirmed publisher, the read model
and the cancel flags in Redis."""

import asyncio
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from redis.exceptions import RedisError

from shared import redis_keys as keys
from shared.control import JobControl
from shared.messaging import Publisher, PublishFailed
from shared.readmodel import JobStore
from shared.schemas import JobCommand, JobTimeline, JobView
from shared.worker import TransientError

__all__ = ["InfrastructureSteps"]

log = logging.getLogger(__name__)


class InfrastructureSteps:
    def __init__(
        self, publisher: Publisher, store: JobStore, control: JobControl, *, keep: int, cancel_ttl: int
    ) -> None:
        self._publisher = publisher
        self._store = store
        self._control = control
        self._keep = keep
        self._cancel_ttl = cancel_ttl

    async def save_definition(self, pipeline_id: str, tenant: str, steps: list[dict[str, Any]]) -> None:
        body = json.dumps({"tenant": tenant, "steps": steps}, separators=(",", ":"))
        with _transient("redis_unavailable"):
            await self._store.redis.set(keys.pipeline_key(pipeline_id), body, ex=self._keep)

    async def views(self, tenant: str, job_ids: Sequence[str]) -> list[JobView]:
        with _transient("redis_unavailable"):
            found = await asyncio.gather(*(self._store.get(tenant, job_id) for job_id in job_ids))
        return [view for view in found if view is not None]

    async def start(self, command: JobCommand) -> None:
        """The command first: once the broker has it the step runs whatever happens next. Its
        `queued` is written to the read model after, as the API does for a submission; the
        history stream holds the command, which the projector folds to the same `queued`."""
        with _transient("broker_unavailable"):
            await self._publisher.publish_command(command)
        queued = JobTimeline.new(command).queued()
        try:
            await self._store.apply(queued)
        except RedisError as exc:  # the worker's first event creates the record
            log.warning("step %s started, not yet recorded: %s", command.job_id, exc)

    async def cancel(self, job_ids: Sequence[str]) -> None:
        with _transient("redis_unavailable"):
            for job_id in job_ids:
                await self._control.request_cancel(job_id, self._cancel_ttl)

    async def cancel_requested(self, job_id: str) -> bool:
        with _transient("redis_unavailable"):
            return await self._control.cancel_state(job_id) is not None


@contextmanager
def _transient(code: str) -> Iterator[None]:
    """Infrastructure away: the pipeline's attempt ends `retrying`, and the next attempt takes
    over from the read model (started steps are not started again)."""
    try:
        yield
    except (RedisError, PublishFailed, ConnectionError) as exc:
        raise TransientError(code, f"{type(exc).__name__}: {exc}") from exc
