"""The Redis read model: jobs folded from their events, read by the API.

Key layout: shared/redis_keys.py. Sized for memory (about 1.3 KB per finished job
besides its result, see `make bench`): every hash value stays short, so Redis keeps the
hash as a compact listpack (one value over 64 bytes, such as a result, turns it into a
hash table three times the size), which is why a result has its own key; the log is a
list, which stays a listpack whatever its entries' length (a sorted set's members may
not pass 64 bytes either), and each entry leaves out what every event of the job shares
(`NOT_LOGGED`, shared/fold.py). Appending is enough for order: an event is applied only with a number
above the last one.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from pydantic_core import to_jsonable_python
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from shared import redis_keys as keys
from shared.fold import APPLY_SCRIPT, REF_MARK, script_call
from shared.schemas import (
    JobError,
    JobEvent,
    JobStatus,
    JobView,
    ProgressView,
    ResultRef,
    parse_event,
)
from shared.schemas.streams import JobSince

__all__ = ["JobStore"]


def _view(job_id: str, h: dict[str, str], result: str | None, *, with_result: bool = True) -> JobView:
    error = None
    ref = None
    if with_result and result is None:
        result = h.get("result")  # a hash written before results had their own key
    if with_result and result is not None and result.startswith(REF_MARK):
        ref, result = ResultRef.model_validate_json(result.removeprefix(REF_MARK)), None
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
        result_ref=ref,
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
    if fields["type"] == "succeeded" and job.result_ref is not None and fields.get("schema_version") == "2":
        fields["result_ref"] = job.result_ref.model_dump(mode="json")
    elif fields["type"] == "succeeded":
        fields["result"] = job.result or {}
    return parse_event(json.dumps(fields))


class JobStore:
    """Reads and writes the read model; every write goes through one atomic script."""

    def __init__(self, redis: Redis, *, finished_ttl: int = 7 * 24 * 3600) -> None:
        self.redis = redis
        self._finished_ttl = finished_ttl
        self._apply = redis.register_script(APPLY_SCRIPT)

    async def active_jobs(self, tenant: str) -> int:
        """The tenant's jobs that are queued or running."""
        return int(await self.redis.get(keys.tenant_active_key(tenant)) or 0)

    async def apply(self, event: JobEvent, *, only_if: JobStatus | None = None) -> int:
        """Fold one event into the job's state; 1 applied, 0 stale or duplicate (or the job
        is not in status `only_if`), -1 refused (another tenant's job)."""
        job_keys, arg = script_call(event, only_if, self._finished_ttl)
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
                job_keys, arg = script_call(event, None, self._finished_ttl)
                pipe.evalsha(self._apply.sha, len(job_keys), *job_keys, arg)
            replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted or flushed
            await self.redis.script_load(APPLY_SCRIPT)
            return await self.apply_many(events)
        return [r if isinstance(r, Exception) else int(r) for r in replies]

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
