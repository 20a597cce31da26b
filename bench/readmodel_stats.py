"""What the finished jobs of a run left in Redis: memory per job and server-side throughput.

Memory is measured key by key with `MEMORY USAGE ... SAMPLES 0` (exact, every element),
not as a difference of `used_memory`: the Redis server is shared, so its total moves
with other people's work. "Without its result" subtracts only the result's own bytes
from its key: the key's overhead counts.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from redis import Redis

from shared import redis_keys

__all__ = ["ReadModelStats", "read_model_stats"]

# Each key with a TTL also has an entry in Redis's `expires` dictionary, which MEMORY USAGE
# does not count: a dictEntry (24 bytes) plus its share of the table's buckets (8 bytes).
EXPIRES_ENTRY_BYTES = 32


@dataclass(frozen=True)
class ReadModelStats:
    jobs: int
    succeeded: int
    sampled: int
    hash_bytes: float
    result_key_bytes: float
    """The result's key, less the bytes of the result string."""
    result_bytes: float
    """The result string's bytes (for context; not part of the target)."""
    events_bytes: float
    index_bytes: float
    expires_bytes: float
    first_created_to_last_finished_s: float

    @property
    def per_job_bytes(self) -> float:
        return sum(
            (self.hash_bytes, self.result_key_bytes, self.events_bytes, self.index_bytes, self.expires_bytes)
        )

    @property
    def server_jobs_per_s(self) -> float:
        span = self.first_created_to_last_finished_s
        return self.jobs / span if span > 0 else 0.0


def read_model_stats(redis_url: str, tenant: str = "bench", sample: int = 500) -> ReadModelStats:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        index = redis_keys.tenant_index_key(tenant)
        members = cast(list[str], redis.zrange(index, 0, -1))
        ids = [redis_keys.job_id_of_member(m) for m in members]
        pipe = redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hmget(redis_keys.job_key(job_id), "status", "created_at", "finished_at")
        rows = cast(list[list[str | None]], pipe.execute())
        finished = [(i, r) for i, r in zip(ids, rows, strict=True) if r[2] is not None]
        created = [datetime.fromisoformat(r[1]) for _, r in finished if r[1]]
        ended = [datetime.fromisoformat(cast(str, r[2])) for _, r in finished]
        span = (max(ended) - min(created)).total_seconds() if finished else 0.0
        step = max(1, len(finished) // sample)
        sampled = [job_id for job_id, _ in finished[::step]][:sample]
        hash_total = result_key_total = result_total = events_total = keys_with_ttl = 0
        for job_id in sampled:
            key, log, result_key = (
                k(job_id) for k in (redis_keys.job_key, redis_keys.log_key, redis_keys.result_key)
            )
            hash_total += int(redis.memory_usage(key, samples=0) or 0)
            result = int(redis.strlen(result_key))
            if result:
                result_key_total += int(redis.memory_usage(result_key, samples=0) or 0) - result
                result_total += result
            events_total += int(redis.memory_usage(log, samples=0) or 0)
            keys_with_ttl += sum(1 for k in (key, log, result_key) if redis.ttl(k) > 0)
        n = max(1, len(sampled))
        index_bytes = int(redis.memory_usage(index, samples=0) or 0) / max(1, len(members))
        return ReadModelStats(
            jobs=len(finished),
            succeeded=sum(1 for _, r in finished if r[0] == "succeeded"),
            sampled=len(sampled),
            hash_bytes=hash_total / n,
            result_key_bytes=result_key_total / n,
            result_bytes=result_total / n,
            events_bytes=events_total / n,
            index_bytes=index_bytes,
            expires_bytes=keys_with_ttl * EXPIRES_ENTRY_BYTES / n,
            first_created_to_last_finished_s=span,
        )
    finally:
        redis.close()
