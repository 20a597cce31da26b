"""A job's result kept in the file storage instead of in the event (results by reference).

A result whose encoded JSON is larger than `RESULT_INLINE_MAX_BYTES` is written once by the
worker to the file storage under a key of its tenant, and the `succeeded` event, the job
history and the read model carry this reference instead of the result. Readers fetch the
bytes by `key` (the API serves them exactly as an inline result); `sha256` lets them check
what they read.
"""

import hashlib

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RESULTS_PREFIX", "RESULT_CONTENT_TYPE", "ResultRef", "result_blob_key"]

RESULT_CONTENT_TYPE = "application/json"
RESULTS_PREFIX = "results/"


def result_blob_key(tenant: str, job_id: str) -> str:
    """The storage key of a job's result: under its tenant (hashed into a path-safe segment,
    as uploads are), one per job (a retried or redelivered attempt overwrites it)."""
    return f"{RESULTS_PREFIX}{hashlib.sha256(tenant.encode()).hexdigest()[:32]}/{job_id}.json"


class ResultRef(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "key": "results/2b9a4fb5e5ea4c5e8b1f0a3c7d6e9f10/"
                    "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a.json",
                    "size": 3145728,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "content_type": RESULT_CONTENT_TYPE,
                }
            ]
        },
    )

    key: str = Field(
        min_length=1,
        max_length=512,
        pattern=r"^results/[^/]+/[^/]+$",
        description="Key in the platform's file storage: `results/<tenant hash>/<job_id>.json`.",
    )
    size: int = Field(ge=0, description="Bytes of the stored JSON.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex digest of the stored bytes.")
    content_type: str = Field(default=RESULT_CONTENT_TYPE, description="Always `application/json` today.")
