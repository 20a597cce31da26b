"""Job submissions per tenant: a token bucket in Redis, shared by every API process, checked
in the same round trip as the tenant's active-jobs count (`admit`)."""

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from shared.redis_keys import tenant_active_key

__all__ = ["ActiveLimit", "Refused", "SubmitRate", "bucket_key"]

# One atomic step: first the tenant's active-jobs count (KEYS[2], kept by the read model's
# apply script) against ARGV[3] (0: no limit), then the tenant's bucket (a hash: tokens,
# at). A submission the count refuses takes nothing from the bucket. The clock is Redis's own
# (TIME), so API processes on machines with skewed clocks still share one bucket. A refused
# request leaves the bucket as it was: it costs the tenant nothing. Rate or burst 0: no
# bucket. Returns {1, ""} when taken, {0, seconds until one token is back} when the rate
# refuses, {-1, ""} when the count does (strings: Lua numbers would be truncated to integers
# on the way out).
_ADMIT = """
local rate, burst, max_active = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if max_active > 0 and KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') >= max_active then
  return {-1, ''}
end
if rate <= 0 or burst <= 0 then return {1, ''} end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then
  return {0, string.format('%.6f', (1 - tokens) / rate)}
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens - 1), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {1, ''}
"""


def bucket_key(tenant: str) -> str:
    return f"jobs:tenant:{tenant}:submit-bucket"


@dataclass(frozen=True)
class Refused:
    retry_after: int
    """Whole seconds (as `Retry-After` wants) until the tenant may submit again."""


@dataclass(frozen=True)
class ActiveLimit:
    """The tenant has its maximum of queued or running jobs."""


class SubmitRate:
    """`rate` submissions per second per tenant, up to `burst` at once; off when either is 0."""

    def __init__(self, redis: Redis, *, rate: float, burst: int) -> None:
        self.enabled = rate > 0 and burst > 0
        self._rate = rate if self.enabled else 0
        self._burst = burst if self.enabled else 0
        self._admit = redis.register_script(_ADMIT)

    async def take(self, tenant: str) -> Refused | None:
        """Take one submission from the tenant's bucket; `Refused` when it is empty."""
        refused = await self.admit(tenant, 0)
        assert not isinstance(refused, ActiveLimit)
        return refused

    async def admit(self, tenant: str, max_active: int) -> Refused | ActiveLimit | None:
        """One round trip: `ActiveLimit` when the tenant has `max_active` jobs queued or
        running (0: no limit), else one submission from its bucket (`Refused` when empty)."""
        if not self.enabled and max_active <= 0:
            return None
        keys = [bucket_key(tenant), tenant_active_key(tenant)]
        answer, wait = await self._admit(keys=keys, args=[self._rate, self._burst, max(0, max_active)])
        if int(answer) == 1:
            return None
        if int(answer) == -1:
            return ActiveLimit()
        return Refused(max(1, math.ceil(float(wait))))
