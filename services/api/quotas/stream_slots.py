"""Open event streams per tenant, counted across API processes.

Each open stream holds a slot: a member of the tenant's sorted set in Redis whose score is
the moment its lease runs out. The process that holds slots renews them every third of
the lease, so a process that dies (SIGKILL, lost machine) frees its slots within one lease
without anybody cleaning up; taking a slot drops the expired ones first. Scores are Redis
TIME in milliseconds, so the API processes' own clocks never matter.
"""

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import defaultdict

from redis.asyncio import Redis

__all__ = ["StreamSlots"]

log = logging.getLogger(__name__)

_NOW_MS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS[1] the tenant's set; ARGV: member, limit, lease ms. 1 taken, 0 at the limit.
_ACQUIRE = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""
)

# KEYS[1] the tenant's set; ARGV: lease ms, members. Renews only slots still present (XX).
_RENEW = (
    _NOW_MS
    + """
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], lease)
return 0
"""
)


class StreamSlots:
    """At most `limit` open streams per tenant (0: no limit, nothing is recorded)."""

    def __init__(self, redis: Redis, *, limit: int, lease_seconds: float = 30.0) -> None:
        self.enabled = limit > 0
        self._redis = redis
        self._limit = limit
        self._lease_ms = int(lease_seconds * 1000)
        self._process = uuid.uuid4().hex[:12]
        self._numbers = itertools.count(1)
        self._held: defaultdict[str, set[str]] = defaultdict(set)
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def key(tenant: str) -> str:
        return f"jobs:tenant:{tenant}:streams"

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._keep_alive(), name="stream-slots")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def acquire(self, tenant: str) -> str | None:
        """A slot for one stream of `tenant` (give it back with `release`); None at the limit.
        With no limit, an empty string, which `release` ignores."""
        if not self.enabled:
            return ""
        member = f"{self._process}:{next(self._numbers)}"
        if not await self._acquire(keys=[self.key(tenant)], args=[member, self._limit, self._lease_ms]):
            return None
        self._held[tenant].add(member)
        return member

    async def release(self, tenant: str, slot: str) -> None:
        if not slot:
            return
        held = self._held.get(tenant)
        if held is not None:
            held.discard(slot)
            if not held:
                del self._held[tenant]
        await self._redis.zrem(self.key(tenant), slot)

    async def renew(self) -> None:
        """Push the lease of every slot this process holds one lease into the future."""
        for tenant, members in list(self._held.items()):
            if members:
                await self._renew(keys=[self.key(tenant)], args=[self._lease_ms, *members])

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                await self.renew()
            except Exception as exc:  # Redis away: keep trying; slots expire if it stays away
                log.warning("could not renew stream slots: %r", exc)
