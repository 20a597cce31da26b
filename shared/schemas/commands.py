"""The job command: what is published to the `jobs` exchange to start a job."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "IDEMPOTENCY_EXPIRES_HEADER",
    "IDEMPOTENCY_FINGERPRINT_HEADER",
    "IDEMPOTENCY_KEY_HEADER",
    "JOB_ID_PATTERN",
    "SCHEMA_VERSION",
    "JobCommand",
    "JobId",
    "is_job_id",
]

JOB_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
"""Every job id, whoever chose it: safe in a URL path, a Redis key, a log line and HTML."""

JobId = Annotated[
    str, Field(pattern=JOB_ID_PATTERN, description="Letters, digits, `_`, `.` and `-`; 1 to 64 characters.")
]

_JOB_ID = re.compile(JOB_ID_PATTERN)


def is_job_id(value: str) -> bool:
    return _JOB_ID.fullmatch(value) is not None


SCHEMA_VERSION: Literal["1"] = "1"

IDEMPOTENCY_KEY_HEADER = "x-idempotency-key"
"""AMQP header of a command the API accepted with an Idempotency-Key: the key, so that the
read model's ledger entry can be rebuilt from the job history (with the two below)."""
IDEMPOTENCY_FINGERPRINT_HEADER = "x-idempotency-fingerprint"
"""The submission body's fingerprint the key is bound to."""
IDEMPOTENCY_EXPIRES_HEADER = "x-idempotency-expires"
"""Unix time (seconds) at which the key's binding ends."""
"""Within a version the only allowed change is a new optional field."""


class JobCommand(BaseModel):
    """Envelope of every job; `input` is validated against the operation's input model."""

    model_config = ConfigDict(
        extra="ignore",  # a newer minor revision may add optional fields
        json_schema_extra={
            "examples": [
                {
                    "schema_version": "1",
                    "job_id": "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a",
                    "tenant": "acme",
                    "operation": "ner.entities",
                    "input": {"text": "Barack Obama visited Paris."},
                    "attempt": 1,
                    "created_at": "2026-01-01T12:00:00Z",
                }
            ]
        },
    )

    schema_version: Literal["1"] = SCHEMA_VERSION
    job_id: JobId
    tenant: str = Field(min_length=1, max_length=128)
    operation: str = Field(min_length=1, max_length=128)
    input: dict[str, Any]
    attempt: int = Field(default=1, ge=1, description="1 for the first run, +1 per retry.")
    created_at: datetime
