"""Intake: from a delivery's bytes, headers and broker user to a job to run, or to the
reason it must not run. Pure: no I/O, so every rule is a unit test."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.identity import PublisherIdentities
from shared.schemas import OPERATIONS, JobCommand
from shared.schemas.topology import DELIVERY_LIMIT
from shared.worker.config import OperationConfig
from shared.worker.errors import describe_errors

__all__ = ["WATCHDOG_HEADER", "Job", "Reject", "admit"]

WATCHDOG_HEADER = "x-lease-watchdog"
"""Marks the copy of a leased job's command that checks on its owner (shared/worker/lease.py)."""


@dataclass(frozen=True)
class Job:
    command: JobCommand
    input: BaseModel
    operation: OperationConfig
    watchdog: bool
    """This delivery only checks whether the job's owner is still alive."""


@dataclass(frozen=True)
class Reject:
    """The delivery is dead-lettered with `code` and `reason`; the job it names, if any, fails."""

    code: str
    reason: str
    names: Mapping[str, Any] | None = None
    """The JSON object naming the job to fail; None when there is none, or when its sender
    may not speak for that job (publisher identity refusals)."""


def delivery_count(headers: Mapping[str, Any]) -> int:
    """Earlier deliveries of this message (quorum queues count every return)."""
    count = headers.get("x-delivery-count")
    return count if isinstance(count, int) else 0


def admit(
    body: bytes,
    headers: Mapping[str, Any],
    user_id: str | None,
    served: Mapping[str, OperationConfig],
    identities: PublisherIdentities,
    queue: str,
) -> Job | Reject:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return Reject("malformed_json", f"body is not JSON: {exc}")
    # Publisher identity (shared/identity.py) first, and it never fails the named job.
    refusal = identities.refusal(user_id, raw, headers)
    if refusal is not None:
        return Reject(refusal.code, refusal.reason)
    names = raw if isinstance(raw, dict) else None
    try:
        command = JobCommand.model_validate(raw)
    except ValidationError as exc:
        return Reject("invalid_envelope", describe_errors(exc), names)
    operation = served.get(command.operation)
    if operation is None:
        known = ", ".join(sorted(served))
        reason = f"operation {command.operation!r} is not served by {queue} ({known})"
        return Reject("unknown_operation", reason, names)
    try:
        job_input = OPERATIONS[command.operation].input_model.model_validate(command.input)
    except ValidationError as exc:
        return Reject("invalid_input", describe_errors(exc, "input"), names)
    deliveries = delivery_count(headers) + 1
    if deliveries >= DELIVERY_LIMIT:
        reason = f"delivered {deliveries} times without finishing: the worker died on it each time"
        return Reject("worker_crashed", reason, names)
    return Job(command, job_input, operation, watchdog=bool(headers.get(WATCHDOG_HEADER)))
