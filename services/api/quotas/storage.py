"""Uploaded bytes per tenant, with each upload's expiry, kept in Redis beside the blobs.

Per tenant: a sorted set (file id -> expiry, Unix seconds; `+inf` for files that never
expire) and a hash (file id -> bytes, plus `_total`). Taking room for an upload first
drops the tenant's expired files from both (up to `_PURGE_BATCH` at a time) and returns
their ids, so the caller deletes their blobs: expired uploads stop counting at once and
leave storage on the tenant's next upload (or the periodic sweep).
"""

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

__all__ = ["Reservation", "StorageLedger"]

_PURGE_BATCH = 1000

# KEYS: the expiry set, the sizes hash. ARGV: file id, bytes, expiry (seconds or +inf),
# limit (0: none), purge batch. Returns {1 taken | 0 refused, bytes in use, {expired ids}}.
_RESERVE = """
local now = tonumber(redis.call('TIME')[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
local freed = 0
for _, id in ipairs(expired) do
  freed = freed + tonumber(redis.call('HGET', KEYS[2], id) or '0')
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
end
local used = tonumber(redis.call('HGET', KEYS[2], '_total') or '0') - freed
local size, limit = tonumber(ARGV[2]), tonumber(ARGV[4])
if limit > 0 and used + size > limit then
  redis.call('HSET', KEYS[2], '_total', used)
  return {0, used, expired}
end
if size > 0 then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], size)
  used = used + size
end
redis.call('HSET', KEYS[2], '_total', used)
return {1, used, expired}
"""

# KEYS: the expiry set, the sizes hash. ARGV: file id. Returns the bytes freed.
_RELEASE = """
local size = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if size > 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HINCRBY', KEYS[2], '_total', -size)
end
return size
"""


@dataclass(frozen=True)
class Reservation:
    taken: bool
    used: int
    """Bytes the tenant has stored, this upload included when taken."""
    expired: list[str]
    """Ids of the tenant's expired files, now off the books: delete their blobs."""


class StorageLedger:
    """At most `limit` stored bytes per tenant (0: no limit, still tracked for expiry)."""

    def __init__(self, redis: Redis, *, limit: int) -> None:
        self.limit = limit
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    @staticmethod
    def keys(tenant: str) -> list[str]:
        return [f"jobs:tenant:{tenant}:files", f"jobs:tenant:{tenant}:file-bytes"]

    async def reserve(self, tenant: str, file_id: str, size: int, expires_at: datetime | None) -> Reservation:
        expiry = "+inf" if expires_at is None else str(int(expires_at.timestamp()))
        taken, used, expired = await self._reserve(
            keys=self.keys(tenant), args=[file_id, size, expiry, self.limit, _PURGE_BATCH]
        )
        return Reservation(bool(taken), int(used), list(expired))

    async def purge(self, tenant: str) -> list[str]:
        """Take the tenant's expired files off the books; their ids, to delete the blobs."""
        return (await self.reserve(tenant, "", 0, None)).expired

    async def release(self, tenant: str, file_id: str) -> int:
        """Take a deleted (or never stored) file off the books; the bytes freed."""
        return int(await self._release(keys=self.keys(tenant), args=[file_id]))
