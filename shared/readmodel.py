"""The Redis read model: jobs folded from their events, read by the API.

Key layout: shared/redis_keys.py. Sized for memory (about 1.3 KB per finished job
besides its result, see `make bench`): every hash value stays short, so Redis keeps the
hash as a compact listpack (one value over 64 bytes, such as a result, turns it into a
hash table three times the size), which is why a result has its own key; the log is a
list, which stays a listpack whatever its entries' length (a sorted set's members may
not pass 64 bytes either), and each entry leaves out what every event of the job shares
(`_NOT_LOGGED`). Appending is enough for order: an event is applied only with a number
above the last one.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from pydantic_core import to_jsonable_python
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from shared import redis_keys as keys
from shared.schemas import (
    TERMINAL_STATES,
    JobError,
    JobEvent,
    JobStatus,
    JobView,
    ProgressView,
    Succeeded,
    parse_event,
    status_after,
)
from shared.schemas.streams import JobSince

__all__ = ["JobStore"]

# Compare-and-set on the job's sequence number: stale and duplicate events are
# no-ops, terminal states are absorbing, a terminal event is never dropped for its
# number (it is renumbered after the last applied one), and an event naming another
# tenant than the job's record is refused. One JSON argument (`_apply_call`). Returns
# 1 when applied, 0 when not, -1 on a tenant mismatch.
_APPLY = (
    "local terminal = {"
    + ", ".join(f"{state} = true" for state in sorted(TERMINAL_STATES))
    + "}\n"
    + """
local job, log, index, result_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local a = cjson.decode(ARGV[1])
local seq = a.seq
local cur = redis.call('HMGET', job, 'status', 'seq', 'tenant')
if a.only_if and cur[1] ~= a.only_if then return 0 end
if cur[1] then
  if cur[3] ~= a.tenant then return -1 end
  if terminal[cur[1]] then return 0 end
  local last = tonumber(cur[2])
  if seq <= last then
    if not terminal[a.status] then return 0 end
    seq = last + 1
  end
else
  redis.call('HSET', job, 'tenant', a.tenant, 'operation', a.operation, 'created_at', a.created_at,
             'attempts', '0', 'fraction', '0')
  redis.call('ZADD', index, 0, a.member)
end
redis.call('HSET', job, 'status', a.status, 'seq', string.format('%d', seq))
for name, value in pairs(a.set) do redis.call('HSET', job, name, value) end
for name, value in pairs(a.set_if_absent) do redis.call('HSETNX', job, name, value) end
redis.call('RPUSH', log, string.format('%d ', seq) .. a.entry)
if terminal[a.status] and a.ttl > 0 then
  redis.call('EXPIRE', job, a.ttl); redis.call('EXPIRE', log, a.ttl)
  if a.result then redis.call('SET', result_key, a.result, 'EX', a.ttl) end
elseif a.result then
  redis.call('SET', result_key, a.result)
end
redis.call('PUBLISH', a.channel, a.notice)
return 1
"""
)


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


# Every event of a job carries these; the log leaves them out (the job's hash has them,
# and the log entry's prefix its number). A result is stored once, in its own key.
_NOT_LOGGED = {"job_id", "tenant", "operation", "seq", "job_created_at", "result"}


def _view(job_id: str, h: dict[str, str], result: str | None, *, with_result: bool = True) -> JobView:
    error = None
    if with_result and result is None:
        result = h.get("result")  # a hash written before results had their own key
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
        result=json.loads(result) if with_result and result is not None else None,
        error=error,
        seq=int(h["seq"]),
    )


def _logged_event(tenant: str, job: JobView, row: str) -> JobEvent:
    """A log entry back as the event it was, with the fields the log leaves out."""
    number, _, entry = row.partition(" ")
    fields: dict[str, Any] = {
        **json.loads(entry),
        "job_id": job.id,
        "tenant": tenant,
        "operation": job.operation,
        "job_created_at": to_jsonable_python(job.created_at),
        "seq": int(number),
    }
    if fields["type"] == "succeeded":
        fields["result"] = job.result or {}
    return parse_event(json.dumps(fields))


class JobStore:
    """Reads and writes the read model; every write goes through one atomic script."""

    def __init__(self, redis: Redis, *, finished_ttl: int = 7 * 24 * 3600) -> None:
        self.redis = redis
        self._finished_ttl = finished_ttl
        self._apply = redis.register_script(_APPLY)

    async def active_jobs(self, tenant: str) -> int:
        """The tenant's jobs that are queued or running."""
        return int(await self.redis.get(keys.tenant_active_key(tenant)) or 0)

    async def apply(self, event: JobEvent, *, only_if: JobStatus | None = None) -> int:
        """Fold one event into the job's state; 1 applied, 0 stale or duplicate (or the job
        is not in status `only_if`), -1 refused (another tenant's job)."""
        job_keys, arg = self._apply_call(event, only_if)
        return int(await self._apply(keys=job_keys, args=[arg]))

    async def apply_many(self, events: Sequence[JobEvent]) -> list[int | Exception]:
        """`apply` for each event, in order, in one round trip. Redis runs them in order,
        so events of one job land in the order given. An event whose script failed gets
        the error in its place; a lost connection raises (applying again is harmless:
        every apply is a compare-and-set)."""
        if not events:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in events:
                job_keys, arg = self._apply_call(event, None)
                pipe.evalsha(self._apply.sha, len(job_keys), *job_keys, arg)
            replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted or flushed
            await self.redis.script_load(_APPLY)
            return await self.apply_many(events)
        return [r if isinstance(r, Exception) else int(r) for r in replies]

    def _apply_call(self, event: JobEvent, only_if: JobStatus | None) -> tuple[list[str], str]:
        to_set, to_set_if_absent = _changes(event)
        created_at = event.job_created_at or event.at
        arg: dict[str, Any] = {
            "status": status_after(event.type).value,
            "seq": event.seq,
            "tenant": event.tenant,
            "operation": event.operation,
            "created_at": _iso(created_at),
            "member": keys.index_member(created_at, event.job_id),
            "entry": event.model_dump_json(exclude=_NOT_LOGGED),
            "ttl": self._finished_ttl,
            "channel": keys.UPDATES_CHANNEL,
            "notice": keys.update_notice(event.tenant, event.job_id),
            "set": to_set,
            "set_if_absent": to_set_if_absent,
        }
        if only_if is not None:
            arg["only_if"] = only_if.value
        if isinstance(event, Succeeded):  # stored as given: cjson would round floats
            arg["result"] = json.dumps(event.result, separators=(",", ":"))
        job_id = event.job_id
        job_keys = [keys.job_key(job_id), keys.log_key(job_id), keys.tenant_index_key(event.tenant)]
        return [*job_keys, keys.result_key(job_id)], json.dumps(arg, separators=(",", ":"))

    async def get(self, tenant: str, job_id: str) -> JobView | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job_key(job_id))
            pipe.get(keys.result_key(job_id))
            h, result = await pipe.execute()
        if not h or h.get("tenant") != tenant:
            return None
        return _view(job_id, h, result)

    async def since(self, tenant: str, job_id: str, after: int | None, position: int = 0) -> JobSince | None:
        """The job and its events numbered above `after` (all when None), read from log
        position `position` on, in one round trip; None for an unknown or another tenant's job."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job_key(job_id))
            pipe.get(keys.result_key(job_id))
            pipe.lrange(keys.log_key(job_id), position, -1)
            h, result, rows = await pipe.execute()
        if not h or h.get("tenant") != tenant:
            return None
        job = _view(job_id, h, result)
        events = [
            _logged_event(tenant, job, row)
            for row in cast(list[str], rows)
            if after is None or int(row.partition(" ")[0]) > after
        ]
        return JobSince(job, events, position + len(rows))

    async def views(self, tenant: str, job_ids: Sequence[str]) -> list[JobView]:
        """The tenant's jobs among these, without results, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(keys.job_key(job_id))
            found = await pipe.execute()
        return [
            _view(j, h, None, with_result=False)
            for j, h in zip(job_ids, found, strict=True)
            if h and h.get("tenant") == tenant
        ]

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
        """Newest first, without results. Filters are applied while scanning, at most
        `max_scanned` jobs per call, so a rare filter returns a short page with a cursor
        rather than a slow one."""
        index = keys.tenant_index_key(tenant)
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
                    pipe.hgetall(keys.job_key(keys.job_id_of_member(member)))
                replies = await pipe.execute()
            expired = []
            for member, h in zip(members, replies, strict=True):
                scanned += 1
                upper = f"({member}"
                if not h:
                    expired.append(member)
                    continue
                view = _view(keys.job_id_of_member(member), h, None, with_result=False)
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
