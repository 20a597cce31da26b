"""Idempotent submission: an Idempotency-Key binds to the first job submitted with it."""

import json
from typing import cast

from redis.asyncio import Redis

from shared.redis_keys import idempotency_key

__all__ = ["SubmissionLedger"]


class SubmissionLedger:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def remember(
        self, tenant: str, key: str, job_id: str, fingerprint: str, ttl: int
    ) -> tuple[str, str] | None:
        """Bind an Idempotency-Key to a job; if it is already bound, return (job id, fingerprint)."""
        name = idempotency_key(tenant, key)
        value = json.dumps([job_id, fingerprint])
        if await self.redis.set(name, value, nx=True, ex=ttl):
            return None
        existing = await self.redis.get(name)
        if existing is None:  # expired between the two calls: take it
            await self.redis.set(name, value, ex=ttl)
            return None
        found_id, found_fingerprint = json.loads(cast(str, existing))
        return str(found_id), str(found_fingerprint)

    async def forget(self, tenant: str, key: str) -> None:
        await self.redis.delete(idempotency_key(tenant, key))
