"""Job submissions per tenant: a token bucket in Redis, shared by every API process."""

import math
from dataclasses import dataclass

from redis.asyncio import Redis

__all__ = ["Refused", "SubmitRate", "bucket_key"]

# One atomic step on the tenant's bucket (a hash: tokens, at). The clock is Redis's own
# (TIME), so API processes on machines with skewed clocks still share one bucket. A refused
# request leaves the bucket as it was: it costs the tenant nothing. Returns {1, ""} when
# taken, {0, seconds until one token is back} when not (strings: Lua numbers would be
# truncated to integers on the way out).
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
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


class SubmitRate:
    """`rate` submissions per second per tenant, up to `burst` at once; off when either is 0."""

    def __init__(self, redis: Redis, *, rate: float, burst: int) -> None:
        self.enabled = rate > 0 and burst > 0
        self._rate = rate
        self._burst = burst
        self._take = redis.register_script(_TAKE)

    async def take(self, tenant: str) -> Refused | None:
        """Take one submission from the tenant's bucket; `Refused` when it is empty."""
        if not self.enabled:
            return None
        taken, wait = await self._take(keys=[bucket_key(tenant)], args=[self._rate, self._burst])
        if int(taken):
            return None
        return Refused(max(1, math.ceil(float(wait))))
