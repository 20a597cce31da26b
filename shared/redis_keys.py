"""Every Redis key and channel the platform uses, all under the `jobs:` prefix: the read
model (shared/readmodel.py), Idempotency-Keys (shared/submissions.py) and job control
(shared/control.py). Bench and tests import them from here too."""

from datetime import datetime
from typing import Literal

__all__ = [
    "HISTORY_OFFSET",
    "HISTORY_REBUILD",
    "UPDATES_CHANNEL",
    "control_key",
    "file_link_key",
    "history_offset_key",
    "idempotency_key",
    "index_member",
    "job_id_of_member",
    "job_key",
    "log_key",
    "parse_update",
    "pipeline_key",
    "result_key",
    "tenant_active_key",
    "tenant_index_key",
    "update_notice",
]

PREFIX = "jobs:"
UPDATES_CHANNEL = f"{PREFIX}updates"
"""Pub/sub: `<tenant> <job id>` of every job that changed (wakes live streams; the tenant
lets a tenant's feed drop other tenants' changes without reading them)."""

HISTORY_OFFSET = f"{PREFIX}history:offset"
"""String: the offset in the `jobs.history` stream of the last record the projector folded into
this read model, written in the same round trip as the records. Gone: the read model was lost
(rebuilt from the stream); lower than the projector's own: Redis went back in time (re-read)."""
HISTORY_REBUILD = f"{PREFIX}history:rebuild"
"""Hash: the projector's replay of the history (state, reason, from, target, applied, rate, ...)."""


def job_key(job_id: str) -> str:
    """Hash: the job's current state, without its result."""
    return f"{PREFIX}job:{job_id}"


def result_key(job_id: str) -> str:
    """String: the result JSON, once succeeded (a long value would bloat the hash)."""
    return f"{job_key(job_id)}:result"


def log_key(job_id: str) -> str:
    """List: applied events in order, each `<seq> <JSON>`."""
    return f"{job_key(job_id)}:log"


def tenant_index_key(tenant: str) -> str:
    """Sorted set, all scores 0, of `index_member`s: lexical order is creation order."""
    return f"{PREFIX}tenant:{tenant}:index"


def tenant_active_key(tenant: str) -> str:
    """String: how many of the tenant's jobs are queued or running (API_TENANT_MAX_ACTIVE_JOBS)."""
    return f"{PREFIX}tenant:{tenant}:active"


def index_member(created_at: datetime, job_id: str) -> str:
    return f"{int(created_at.timestamp() * 1000):013d}:{job_id}"


def job_id_of_member(member: str) -> str:
    return member.split(":", 1)[1]


def idempotency_key(tenant: str, key: str) -> str:
    """String: `[job id, body fingerprint]` of the submission an Idempotency-Key names."""
    return f"{PREFIX}idem:{tenant}:{key}"


def control_key(kind: Literal["cancel", "lease"], job_id: str) -> str:
    """String: a cancel request (`1`), or a long job's lease (`held:<owner>` or `done`)."""
    return f"{PREFIX}{kind}:{job_id}"


def file_link_key(token_digest: str) -> str:
    """String: `{"tenant", "file_id"}` a file link's token opens, until the key expires
    (services/api/file_links.py); named by the token's SHA-256, never the token itself."""
    return f"{PREFIX}file-link:{token_digest}"


def pipeline_key(job_id: str) -> str:
    """String: a pipeline's steps as JSON `{"tenant", "steps": [{id, job_id, operation, after}]}`,
    written by services/pipeline when it first runs the pipeline (read by the API)."""
    return f"{PREFIX}pipeline:{job_id}"


def history_offset_key(reader: str) -> str:
    """String: the last job-history stream offset `reader` has handled (it resumes after it)."""
    return f"{PREFIX}history-offset:{reader}"


def update_notice(tenant: str, job_id: str) -> str:
    return f"{tenant} {job_id}"


def parse_update(notice: str) -> tuple[str, str]:
    """(tenant, job id) of an update notice. Split at the first space: tenant names come from
    the platform's configuration and have none (a job id may, if a direct publisher says so)."""
    tenant, _, job_id = notice.partition(" ")
    return tenant, job_id
