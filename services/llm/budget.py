"""LLM tokens per tenant per UTC day (`LLM_TENANT_DAILY_TOKENS`), shared by every LLM worker.

Before each call the worker reserves what the call may cost at most (its prompt, counted
with the tokenizer, plus `max_tokens`); a reservation that would take the tenant past
its budget fails the job with `quota_exceeded` and the call is never made. After the call
the reservation is settled to what the provider reported. So concurrent calls of one
tenant, on any number of workers, can never spend more than the budget between them.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from shared.telemetry.metrics import TENANT_LIMITED
from shared.worker import JobFailure

__all__ = ["Reservation", "TokenBudget"]

_KEEP_SECONDS = 2 * 24 * 3600
"""A day's counter outlives its day, so a call that spans midnight settles on a live key."""

# KEYS[1] the tenant's counter for the day; ARGV: tokens wanted, daily limit, seconds to keep.
# Returns {1 | 0, tokens used (before this reservation when refused)}.
_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if used + wanted > tonumber(ARGV[2]) then return {0, used} end
redis.call('INCRBY', KEYS[1], wanted)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, used + wanted}
"""


@dataclass(frozen=True)
class Reservation:
    key: str
    tokens: int


class TokenBudget:
    def __init__(self, redis: Redis, *, daily_tokens: int) -> None:
        self.daily_tokens = daily_tokens
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)

    @staticmethod
    def key(tenant: str, moment: datetime) -> str:
        return f"jobs:tenant:{tenant}:llm-tokens:{moment.astimezone(UTC).date().isoformat()}"

    async def used(self, tenant: str) -> int:
        return int(await self._redis.get(self.key(tenant, datetime.now(UTC))) or 0)

    async def reserve(self, tenant: str, tokens: int) -> Reservation:
        """Hold `tokens` of today's budget; raises `JobFailure("quota_exceeded")` when they
        would take the tenant past it."""
        key = self.key(tenant, datetime.now(UTC))
        taken, used = await self._reserve(keys=[key], args=[tokens, self.daily_tokens, _KEEP_SECONDS])
        if not int(taken):
            TENANT_LIMITED.labels(tenant, "llm_daily_tokens").inc()
            raise JobFailure(
                "quota_exceeded",
                f"this tenant's LLM budget is {self.daily_tokens} tokens per UTC day; {used} are used "
                f"and the next call needs up to {tokens}. It renews at 00:00 UTC.",
            )
        return Reservation(key, tokens)

    async def settle(self, reservation: Reservation, actual: int) -> None:
        """Replace the reserved tokens by those actually used."""
        if actual != reservation.tokens:
            await self._redis.incrby(reservation.key, actual - reservation.tokens)
