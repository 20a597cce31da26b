"""Job control state in Redis, shared by the API and the workers: cancellation requests
and the leases of jobs that run longer than the broker lets a delivery stay unacked."""

from collections.abc import Sequence
from typing import Literal

from redis.asyncio import Redis

from shared.redis_keys import control_key

__all__ = ["CancelState", "JobControl", "LeaseState"]

LeaseState = Literal["held", "done"] | None
CancelState = Literal["requested", "recorded"] | None
"""`recorded`: the API has already published the job's `cancelled` (it was still queued)."""


def _cancel_state(value: str | bytes | None) -> CancelState:
    if value is None:
        return None
    return "recorded" if value in ("recorded", b"recorded") else "requested"


class JobControl:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def request_cancel(self, job_id: str, ttl: int) -> None:
        await self.redis.set(control_key("cancel", job_id), "1", ex=ttl)

    async def mark_cancel_recorded(self, job_id: str) -> None:
        """The job's `cancelled` is on the broker: the worker that takes its command acks it
        without publishing another (which would count the job twice)."""
        await self.redis.set(control_key("cancel", job_id), "recorded", xx=True, keepttl=True)

    async def cancel_state(self, job_id: str) -> CancelState:
        return _cancel_state(await self.redis.get(control_key("cancel", job_id)))

    async def cancel_states(self, job_ids: Sequence[str]) -> list[CancelState]:
        """`cancel_state` of each job, in one round trip."""
        if not job_ids:
            return []
        return [_cancel_state(v) for v in await self.redis.mget([control_key("cancel", j) for j in job_ids])]

    async def cancelled(self, job_ids: Sequence[str]) -> set[str]:
        """Which of these jobs have been asked to stop (one round trip)."""
        if not job_ids:
            return set()
        flags = await self.redis.mget([control_key("cancel", j) for j in job_ids])
        return {job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag}

    async def hold_lease(self, job_id: str, owner: str, ttl: float) -> None:
        await self.redis.set(control_key("lease", job_id), f"held:{owner}", px=int(ttl * 1000))

    async def finish_lease(self, job_id: str, ttl: float) -> None:
        """The job's outcome is published: a watchdog that arrives later must not rerun it."""
        await self.redis.set(control_key("lease", job_id), "done", px=int(ttl * 1000))

    async def release_lease(self, job_id: str) -> None:
        """Give the job up (shutdown): the next watchdog hands it to another worker."""
        await self.redis.delete(control_key("lease", job_id))

    async def lease_state(self, job_id: str) -> LeaseState:
        value = await self.redis.get(control_key("lease", job_id))
        if value is None:
            return None
        return "done" if value == "done" else "held"
