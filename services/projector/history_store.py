"""Writing folded history records and the stream offset to Redis in one round trip.

The offset (`HISTORY_OFFSET`) lives next to the read model it describes: a batch of records
and the offset of its last one are one pipeline, and every apply in it first checks that the
read model still holds the offset this projector folded before the batch (`after`). Redis
flushed, replaced or restarted empty (no offset), or gone back in time after a fail-over
(a lower offset): nothing is applied and the caller re-reads the stream from where the read
model really is (`Lost`).
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import NoScriptError

from shared import redis_keys as keys
from shared.fold import APPLY_SCRIPT, script_call
from shared.readmodel import JobStore
from shared.schemas import JobEvent

__all__ = ["OFFSET_SCRIPT", "HistoryStore", "LedgerEntry", "Lost"]

OFFSET_SCRIPT = """
local cur = redis.call('GET', KEYS[1])
if ARGV[1] ~= '' and (not cur or tonumber(cur) < tonumber(ARGV[1])) then return -2 end
if not cur or tonumber(cur) < tonumber(ARGV[2]) then redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""
"""Set the stored offset to ARGV[2] (never lower: several projectors may fold the same
stream), unless the read model lacks what was folded up to ARGV[1] ('' : no such check)."""


@dataclass(frozen=True)
class LedgerEntry:
    """An Idempotency-Key binding carried by an accepted command (shared/submissions.py)."""

    tenant: str
    key: str
    job_id: str
    fingerprint: str
    expires_at: float
    """Unix time."""


@dataclass(frozen=True)
class Lost:
    """The read model does not hold what this projector folded: its stored offset."""

    stored: int | None


class HistoryStore:
    def __init__(self, store: JobStore, finished_ttl: int) -> None:
        self.store = store
        self.redis = store.redis
        self.finished_ttl = finished_ttl
        self._offset = self.redis.register_script(OFFSET_SCRIPT)

    async def stored_offset(self) -> int | None:
        value = await self.redis.get(keys.HISTORY_OFFSET)
        return None if value is None else int(value)

    async def forget_offset(self) -> None:
        """The stored offset belongs to another stream: drop it (the next fold sets ours)."""
        await self.redis.delete(keys.HISTORY_OFFSET)

    async def fold(
        self,
        events: Sequence[JobEvent],
        ledger: Sequence[LedgerEntry],
        *,
        after: int | None,
        offset: int,
    ) -> list[int | Exception] | Lost:
        """Apply `events` (in order) and the ledger entries, and store `offset`, in one round
        trip; the outcome of each event, or `Lost` when nothing was applied because the read
        model has not folded `after` (None: no such check, a replay from the first record)."""
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                job_keys, arg = script_call(event, None, self.finished_ttl, after=after)
                pipe.evalsha(self.store._apply.sha, len(job_keys), *job_keys, arg)
            for entry in ledger:
                remaining = int((entry.expires_at - now) * 1000)
                if remaining > 0:  # only while the key still binds: with the time it has left
                    value = json.dumps([entry.job_id, entry.fingerprint])
                    pipe.set(keys.idempotency_key(entry.tenant, entry.key), value, nx=True, px=remaining)
            pipe.evalsha(self._offset.sha, 1, keys.HISTORY_OFFSET, "" if after is None else after, offset)
            replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted or flushed
            await self.redis.script_load(APPLY_SCRIPT)
            await self.redis.script_load(OFFSET_SCRIPT)
            return await self.fold(events, ledger, after=after, offset=offset)
        if isinstance(replies[-1], Exception):
            raise replies[-1]
        outcomes = [r if isinstance(r, Exception) else int(r) for r in replies[: len(events)]]
        if replies[-1] == -2 or -2 in outcomes:
            return Lost(await self.stored_offset())
        return outcomes
