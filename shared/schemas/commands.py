"""The job command: what is published to the `jobs` exchange to start a job."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SCHEMA_VERSION", "JobCommand"]

SCHEMA_VERSION: Literal["1"] = "1"
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
    job_id: str = Field(min_length=1, max_length=64)
    tenant: str = Field(min_length=1, max_length=128)
    operation: str = Field(min_length=1, max_length=128)
    input: dict[str, Any]
    attempt: int = Field(default=1, ge=1, description="1 for the first run, +1 per retry.")
    created_at: datetime
