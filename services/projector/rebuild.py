"""Progress of a replay of the job history into the read model: in Redis (`HISTORY_REBUILD`,
which `jobs-admin rebuild` shows), as metrics and in the log."""

import logging
import time
from typing import Any

from prometheus_client import Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import redis_keys as keys

__all__ = ["RebuildProgress"]

log = logging.getLogger(__name__)

TARGET = Gauge("projector_rebuild_target_offset", "Newest history offset when the running replay began.")
RATE = Gauge("projector_rebuild_records_per_second", "Records per second of the running or last replay.")
RUNNING = Gauge("projector_rebuild_running", "1 while the projector replays the history into Redis.")


class RebuildProgress:
    def __init__(self, redis: Redis, every: float = 1.0, log_every: float = 5.0) -> None:
        self.redis = redis
        self.every = every
        self.log_every = log_every
        self.running = False
        self.reason = ""
        self.start: int | str = ""
        self.target: int | None = None
        self.records = 0
        self._began = self._written = self._logged = 0.0
        self._started_at = 0.0

    async def requested(self) -> bool:
        """An operator asked for this replay (`jobs-admin rebuild`)."""
        try:
            return await self.redis.hget(keys.HISTORY_REBUILD, "state") == "requested"
        except RedisError:
            return False

    async def begin(self, reason: str, start: int | str, target: int | None) -> None:
        self.running, self.reason, self.start, self.target = True, reason, start, target
        self.records = 0
        self._began = self._logged = time.monotonic()
        self._started_at = time.time()
        TARGET.set(target if target is not None else 0)
        RUNNING.set(1)
        log.warning("replaying the job history into Redis (%s) from %s to %s", reason, start, target)
        await self.report(None, force=True)

    async def report(self, applied: int | None, *, records: int = 0, force: bool = False) -> None:
        if not self.running:
            return
        self.records += records
        now = time.monotonic()
        rate = self.records / max(now - self._began, 1e-6)
        done = self.target is None or (applied is not None and applied >= self.target)
        if not (done or force or now - self._written >= self.every):
            return
        self._written = now
        RATE.set(rate)
        fields: dict[Any, Any] = {
            "state": "done" if done else "running",
            "reason": self.reason,
            "from": str(self.start),
            "target": "" if self.target is None else str(self.target),
            "applied": "" if applied is None else str(applied),
            "records": str(self.records),
            "rate": f"{rate:.0f}",
            "started_at": f"{self._started_at:.3f}",
            "updated_at": f"{time.time():.3f}",
        }
        try:
            await self.redis.hset(keys.HISTORY_REBUILD, mapping=fields)
        except RedisError as exc:
            log.warning("could not record the replay's progress: %s", exc)
        if done:
            self.running = False
            RUNNING.set(0)
            seconds = now - self._began
            log.warning(
                "replayed %d history records in %.1fs (%.0f/s): the read model is rebuilt",
                self.records, seconds, rate,
            )  # fmt: skip
        elif now - self._logged >= self.log_every:
            self._logged = now
            log.info("replaying the job history: at %s of %s, %.0f records/s", applied, self.target, rate)
