"""The Redis read model: jobs folded from their events, read by the API.

Layout (all keys under the `jobs:` prefix):
- `jobs:job:<id>`            hash: the job's current state, without its result (see `_changes`)
- `jobs:job:<id>:result`     string: the result JSON, once succeeded
- `jobs:job:<id>:log`        list: applied events in order, each `<seq> <JSON>`, the JSON
                             without the fields every event of the job shares (`_NOT_LOGGED`)
- `jobs:tenant:<t>:index`    sorted set, all scores 0, members `<created ms>:<id>`:
                             lexical order is creation order, so pages are exact
- `jobs:idem:<t>:<key>`      Idempotency-Key -> job id
- `jobs:tenant:<t>:active`   the tenant's jobs queued or running (for API_TENANT_MAX_ACTIVE_JOBS)
- channel `jobs:updates`     the id of every job that changed (wakes live streams)

Sized for memory (about 1.3 KB per finished job besides its result, see `make bench`):
every hash value stays short, so Redis keeps the hash as a compact listpack (one value
over 64 bytes, such as a result, turns it into a hash table three times the size), and
the log is a list, which stays a listpack whatever its entries' length (a sorted set's
members may not pass 64 bytes either). Appending is enough for order: an event is
applied only with a number above the last one.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from pydantic_core import to_jsonable_python
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from shared.schemas import (
    JobError,
    JobEvent,
    JobStatus,
    JobView,
    ProgressView,
    Succeeded,
)

__all__ = ["UPDATES_CHANNEL", "JobStore", "event_status"]

UPDATES_CHANNEL = "jobs:updates"

_STATUS_BY_EVENT = {
    "queued": JobStatus.queued,
    "started": JobStatus.running,
    "progress": JobStatus.running,
    "retrying": JobStatus.queued,
    "succeeded": JobStatus.succeeded,
    "failed": JobStatus.failed,
    "cancelled": JobStatus.cancelled,
}

# Compare-and-set on the job's sequence number: stale and duplicate events are
# no-ops, terminal states are absorbing, a terminal event is never dropped for its
# number (it is renumbered after the last applied one), and an event naming another
# tenant than the job's record is refused. Returns 1 when applied, 0 when not, -1 on
# a tenant mismatch. The tenant's active count goes up when a job's record is created in a
# non-terminal state and down when it reaches a terminal one: each once per job, since a
# terminal state is absorbing (never below 0: records older than the count never added).
_APPLY = """
local job, log, index, result_key, active = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local status, seq = ARGV[1], tonumber(ARGV[2])
local tenant, operation, created_at, member = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local entry, ttl, channel, job_id = ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local n_set, only_if, result = tonumber(ARGV[11]), ARGV[12], ARGV[13]
local terminal = {succeeded = true, failed = true, cancelled = true}
local cur = redis.call('HMGET', job, 'status', 'seq', 'tenant')
if only_if ~= '' and cur[1] ~= only_if then return 0 end
if cur[1] then
  if cur[3] ~= tenant then return -1 end
  if terminal[cur[1]] then return 0 end
  local last = tonumber(cur[2])
  if seq <= last then
    if not terminal[status] then return 0 end
    seq = last + 1
  end
  if terminal[status] and redis.call('DECR', active) < 0 then redis.call('SET', active, 0) end
else
  redis.call('HSET', job, 'tenant', tenant, 'operation', operation, 'created_at', created_at,
             'attempts', '0', 'fraction', '0')
  redis.call('ZADD', index, 0, member)
  if not terminal[status] then redis.call('INCR', active) end
end
redis.call('HSET', job, 'status', status, 'seq', string.format('%d', seq))
local i = 14
for _ = 1, n_set do
  redis.call('HSET', job, ARGV[i], ARGV[i + 1]); i = i + 2
end
while i < #ARGV do
  redis.call('HSETNX', job, ARGV[i], ARGV[i + 1]); i = i + 2
end
redis.call('RPUSH', log, string.format('%d ', seq) .. entry)
if terminal[status] and ttl > 0 then
  redis.call('EXPIRE', job, ttl); redis.call('EXPIRE', log, ttl)
  if result ~= '' then redis.call('SET', result_key, result, 'EX', ttl) end
elseif result ~= '' then
  redis.call('SET', result_key, result)
end
redis.call('PUBLISH', channel, job_id)
return 1
"""


def event_status(event_type: str) -> JobStatus:
    return _STATUS_BY_EVENT[event_type]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _changes(event: JobEvent) -> tuple[dict[str, str], dict[str, str]]:
    """Hash fields an event sets, and fields it sets only if absent."""
    at = _iso(event.at)
    match event.type:
        case "started":
            return {"attempts": str(event.attempt)}, {"started_at": at}
        case "progress":
            return {"fraction": repr(event.fraction), "message": event.message}, {}
        case "retrying":
            return {"attempts": str(event.attempt), "message": event.error.message}, {}
        case "succeeded":
            return {"fraction": "1.0", "message": "", "finished_at": at}, {}
        case "failed":
            return {
                "error_code": event.error.code,
                "error_message": event.error.message,
                "finished_at": at,
            }, {}
        case "cancelled":
            return {"finished_at": at}, {}
    return {}, {}


def _index_member(created_at: datetime, job_id: str) -> str:
    return f"{int(created_at.timestamp() * 1000):013d}:{job_id}"


# Every event of a job carries these; the log leaves them out (the job's hash has them,
# and the log entry's prefix its number). A result is stored once, in its own key.
_NOT_LOGGED = {"job_id", "tenant", "operation", "seq", "job_created_at", "result"}


def _view(job_id: str, h: dict[str, str], result: str | None) -> JobView:
    error = None
    if "error_code" in h:
        error = JobError(code=h["error_code"], message=h.get("error_message", ""))
    return JobView(
        id=job_id,
        operation=h["operation"],
        status=JobStatus(h["status"]),
        progress=ProgressView(fraction=float(h.get("fraction", 0)), message=h.get("message", "")),
        attempts=int(h.get("attempts", 0)),
        created_at=datetime.fromisoformat(h["created_at"]),
        started_at=datetime.fromisoformat(h["started_at"]) if "started_at" in h else None,
        finished_at=datetime.fromisoformat(h["finished_at"]) if "finished_at" in h else None,
        # A hash written before results had their own key still holds it.
        result=json.loads(result) if result is not None else json.loads(h.get("result", "null")),
        error=error,
        seq=int(h["seq"]),
    )


class JobStore:
    """Reads and writes the read model; every write goes through one atomic script."""

    def __init__(self, redis: Redis, *, finished_ttl: int = 7 * 24 * 3600) -> None:
        self.redis = redis
        self._finished_ttl = finished_ttl
        self._apply = redis.register_script(_APPLY)

    @staticmethod
    def _job_key(job_id: str) -> str:
        return f"jobs:job:{job_id}"

    @staticmethod
    def _index_key(tenant: str) -> str:
        return f"jobs:tenant:{tenant}:index"

    @staticmethod
    def _active_key(tenant: str) -> str:
        return f"jobs:tenant:{tenant}:active"

    async def active_jobs(self, tenant: str) -> int:
        """The tenant's jobs that are queued or running."""
        return int(await self.redis.get(self._active_key(tenant)) or 0)

    async def apply(self, event: JobEvent, *, only_if: JobStatus | None = None) -> int:
        """Fold one event into the job's state; 1 applied, 0 stale or duplicate (or the job
        is not in status `only_if`), -1 refused (another tenant's job)."""
        keys, args = self._apply_call(event, only_if)
        return int(await self._apply(keys=keys, args=args))

    async def apply_many(self, events: Sequence[JobEvent]) -> list[int | Exception]:
        """`apply` for each event, in order, in one round trip. Redis runs them in order,
        so events of one job land in the order given. An event whose script failed gets
        the error in its place; a lost connection raises (applying again is harmless:
        every apply is a compare-and-set)."""
        if not events:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                keys, args = self._apply_call(event, None)
                pipe.evalsha(self._apply.sha, len(keys), *keys, *args)
            replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted or flushed
            await self.redis.script_load(_APPLY)
            return await self.apply_many(events)
        return [r if isinstance(r, Exception) else int(r) for r in replies]

    def _apply_call(self, event: JobEvent, only_if: JobStatus | None) -> tuple[list[str], list[str | int]]:
        to_set, to_set_if_absent = _changes(event)
        created_at = event.job_created_at or event.at
        args: list[str | int] = [
            event_status(event.type).value,
            event.seq,
            event.tenant,
            event.operation,
            _iso(created_at),
            _index_member(created_at, event.job_id),
            event.model_dump_json(exclude=_NOT_LOGGED),
            self._finished_ttl,
            UPDATES_CHANNEL,
            event.job_id,
            len(to_set),
            only_if.value if only_if else "",
            json.dumps(event.result, separators=(",", ":")) if isinstance(event, Succeeded) else "",
        ]
        for fields in (to_set, to_set_if_absent):
            for name, value in fields.items():
                args += [name, value]
        key = self._job_key(event.job_id)
        return [
            key,
            f"{key}:log",
            self._index_key(event.tenant),
            f"{key}:result",
            self._active_key(event.tenant),
        ], args

    async def get(self, tenant: str, job_id: str) -> JobView | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._job_key(job_id))
            pipe.get(f"{self._job_key(job_id)}:result")
            h, result = await pipe.execute()
        if not h or h.get("tenant") != tenant:
            return None
        return _view(job_id, h, result)

    async def events_after(
        self, tenant: str, job: JobView, seq: int, *, start: int = 0
    ) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        """The job's applied events numbered above `seq`, oldest first (without the result),
        read from log position `start` on; also returns the position to read from next."""
        rows = cast(list[str], await self.redis.lrange(f"{self._job_key(job.id)}:log", start, -1))
        shared = {
            "job_id": job.id,
            "tenant": tenant,
            "operation": job.operation,
            "job_created_at": to_jsonable_python(job.created_at),
        }
        events = []
        for row in rows:
            number, _, entry = row.partition(" ")
            if int(number) > seq:
                events.append((int(number), {**shared, **json.loads(entry), "seq": int(number)}))
        return events, start + len(rows)

    async def list(
        self,
        tenant: str,
        *,
        limit: int,
        cursor: str | None = None,
        status: JobStatus | None = None,
        operation: str | None = None,
        batch: int = 200,
        max_scanned: int = 5000,
    ) -> tuple[list[JobView], str | None]:
        """Newest first. Filters are applied while scanning, at most `max_scanned` jobs per
        call, so a rare filter returns a short page with a cursor rather than a slow one."""
        index = self._index_key(tenant)
        upper = f"({cursor}" if cursor else "+"
        items: list[JobView] = []
        scanned = 0
        while scanned < max_scanned:
            members = cast(
                Sequence[str],
                await self.redis.zrevrangebylex(index, upper, "-", start=0, num=batch),
            )
            if not members:
                return items, None
            async with self.redis.pipeline(transaction=False) as pipe:
                for member in members:
                    key = self._job_key(member.split(":", 1)[1])
                    pipe.hgetall(key)
                    pipe.get(f"{key}:result")
                replies = await pipe.execute()
            expired = []
            for member, h, result in zip(members, replies[::2], replies[1::2], strict=True):
                scanned += 1
                upper = f"({member}"
                if not h:
                    expired.append(member)
                    continue
                view = _view(member.split(":", 1)[1], h, result)
                if (status is None or view.status == status) and (
                    operation is None or view.operation == operation
                ):
                    items.append(view)
                    if len(items) == limit:
                        return items, member
            if expired:
                await self.redis.zrem(index, *expired)
            if len(members) < batch:
                return items, None
        return items, upper[1:]

    async def remember_submission(
        self, tenant: str, key: str, job_id: str, fingerprint: str, ttl: int
    ) -> tuple[str, str] | None:
        """Bind an Idempotency-Key to a job; if it is already bound, return (job id, fingerprint)."""
        name = f"jobs:idem:{tenant}:{key}"
        value = json.dumps([job_id, fingerprint])
        if await self.redis.set(name, value, nx=True, ex=ttl):
            return None
        existing = await self.redis.get(name)
        if existing is None:  # expired between the two calls: take it
            await self.redis.set(name, value, ex=ttl)
            return None
        found_id, found_fingerprint = json.loads(cast(str, existing))
        return str(found_id), str(found_fingerprint)

    async def forget_submission(self, tenant: str, key: str) -> None:
        await self.redis.delete(f"jobs:idem:{tenant}:{key}")
