"""How one job event folds into the Redis read model: the compare-and-set script and the
one JSON argument it takes (shared/readmodel.py runs it; key layout in shared/redis_keys.py)."""

import json
from datetime import UTC, datetime
from typing import Any

from shared import redis_keys as keys
from shared.schemas import TERMINAL_STATES, Failed, JobEvent, JobStatus, Succeeded, status_after

__all__ = ["APPLY_SCRIPT", "NOT_LOGGED", "REF_MARK", "iso", "remaining_ms", "script_call"]

REF_MARK = "ref "
"""A result key holding this, then a `ResultRef`'s JSON, names a result kept in the file
storage (an inline result is a JSON object, so it always starts with `{`)."""

# Compare-and-set on the job's sequence number: stale and duplicate events are
# no-ops, terminal states are absorbing, a terminal event is never dropped for its
# number (it is renumbered after the last applied one), and an event naming another
# tenant than the job's record is refused. One JSON argument (`script_call`). Returns
# 1 when applied, 0 when not, -1 on a tenant mismatch. The tenant's active count goes up
# when a job's record is created non-terminal and down when it reaches a terminal state:
# each once per job, since terminal states absorb (never below 0: older records never added).
# A finished job lives `ttl` milliseconds from its terminal event's time (not from when it is
# applied: a replayed job keeps what is left of its time, and one whose time has passed lives
# 1 ms). With `after` (the projector folding the history stream), -2 and nothing applied when
# the read model's stored history offset (KEYS[6]) is gone or below `after`: Redis lost writes.
APPLY_SCRIPT = (
    "local terminal = {"
    + ", ".join(f"{state} = true" for state in sorted(TERMINAL_STATES))
    + "}\n"
    + """
local job, log, index, result_key, active = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local a = cjson.decode(ARGV[1])
if a.after then
  local folded = redis.call('GET', KEYS[6])
  if not folded or tonumber(folded) < a.after then return -2 end
end
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
  if terminal[a.status] and redis.call('DECR', active) < 0 then redis.call('SET', active, 0) end
else
  redis.call('HSET', job, 'tenant', a.tenant, 'operation', a.operation, 'created_at', a.created_at,
             'attempts', '0', 'fraction', '0')
  redis.call('ZADD', index, 0, a.member)
  if not terminal[a.status] then redis.call('INCR', active) end
end
redis.call('HSET', job, 'status', a.status, 'seq', string.format('%d', seq))
for name, value in pairs(a.set) do redis.call('HSET', job, name, value) end
for name, value in pairs(a.set_if_absent) do redis.call('HSETNX', job, name, value) end
redis.call('RPUSH', log, string.format('%d ', seq) .. a.entry)
if terminal[a.status] and a.ttl > 0 then
  redis.call('PEXPIRE', job, a.ttl); redis.call('PEXPIRE', log, a.ttl)
  if a.result then redis.call('SET', result_key, a.result, 'PX', a.ttl) end
elseif a.result then
  redis.call('SET', result_key, a.result)
end
redis.call('PUBLISH', a.channel, a.notice)
return 1
"""
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _ran(event: Succeeded | Failed) -> dict[str, str]:
    """A terminal event that stands for its attempt's `started` too (it carries `started_at`)
    counts the attempt as `started` would."""
    return {"attempts": str(event.attempt)} if event.started_at is not None else {}


def _began(event: Succeeded | Failed) -> dict[str, str]:
    return {"started_at": iso(event.started_at)} if event.started_at is not None else {}


def _changes(event: JobEvent) -> tuple[dict[str, str], dict[str, str]]:
    """Hash fields an event sets, and fields it sets only if absent."""
    at = iso(event.at)
    match event.type:
        case "started":
            return {"attempts": str(event.attempt)}, {"started_at": at}
        case "progress":
            return {"fraction": repr(event.fraction), "message": event.message}, {}
        case "retrying":
            return {"attempts": str(event.attempt), "message": event.error.message}, {}
        case "succeeded":
            return {"fraction": "1.0", "message": "", "finished_at": at} | _ran(event), _began(event)
        case "failed":
            return {
                "error_code": event.error.code,
                "error_message": event.error.message,
                "finished_at": at,
            } | _ran(event), _began(event)
        case "cancelled":
            return {"finished_at": at}, {}
    return {}, {}


# Every event of a job carries these; the log leaves them out (the job's hash has them,
# and the log entry's prefix its number). A result (or its reference) is stored once, in its own key.
NOT_LOGGED = {"job_id", "tenant", "operation", "seq", "job_created_at", "result", "result_ref"}


def remaining_ms(event: JobEvent, finished_ttl: int, now: datetime | None = None) -> int:
    """Milliseconds a job finished by `event` stays readable (0: forever), counted from the
    event's time; at least 1 (a replayed job whose time has passed vanishes at once)."""
    if finished_ttl <= 0:
        return 0
    age = ((now or datetime.now(UTC)) - event.at).total_seconds()
    return max(1, min(finished_ttl * 1000, int((finished_ttl - age) * 1000)))


def script_call(
    event: JobEvent, only_if: JobStatus | None, finished_ttl: int, *, after: int | None = None
) -> tuple[list[str], str]:
    """The keys and the one JSON argument of `APPLY_SCRIPT` for `event`; `after`: the history
    offset the read model must have folded already (see the script)."""
    to_set, to_set_if_absent = _changes(event)
    created_at = event.job_created_at or event.at
    arg: dict[str, Any] = {
        "status": status_after(event.type).value,
        "seq": event.seq,
        "tenant": event.tenant,
        "operation": event.operation,
        "created_at": iso(created_at),
        "member": keys.index_member(created_at, event.job_id),
        "entry": event.model_dump_json(exclude=NOT_LOGGED),
        "ttl": remaining_ms(event, finished_ttl),
        "channel": keys.UPDATES_CHANNEL,
        "notice": keys.update_notice(event.tenant, event.job_id),
        "set": to_set,
        "set_if_absent": to_set_if_absent,
    }
    if only_if is not None:
        arg["only_if"] = only_if.value
    if after is not None:
        arg["after"] = after
    if isinstance(event, Succeeded) and event.result_ref is not None:
        arg["result"] = REF_MARK + event.result_ref.model_dump_json()
    elif isinstance(event, Succeeded):  # stored as given: cjson would round floats
        arg["result"] = json.dumps(event.result, separators=(",", ":"))
    job_id = event.job_id
    job_keys = [keys.job_key(job_id), keys.log_key(job_id), keys.tenant_index_key(event.tenant)]
    job_keys += [keys.result_key(job_id), keys.tenant_active_key(event.tenant), keys.HISTORY_OFFSET]
    return job_keys, json.dumps(arg, separators=(",", ":"))
