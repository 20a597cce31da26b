"""Results by reference: a result too large to travel in events is written once to the file
storage and the `succeeded` event carries a `ResultRef` (shared/schemas/results.py) instead.

The worker decides (`keep`), the API streams the bytes back (`chunks`) and the text sources
(shared/sources.py) load them (`load`). Storage errors become `StorageUnavailable`, which
callers turn into a redelivery (worker), a `503` (API) or a retry (a source job's text).
"""

import hashlib
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from shared.schemas import RESULT_CONTENT_TYPE, JobCommand, ResultRef, result_blob_key
from shared.schemas.results import RESULTS_PREFIX
from shared.storage import BlobStorage

__all__ = ["DEFAULT_INLINE_MAX_BYTES", "ResultCorrupt", "ResultStore"]

DEFAULT_INLINE_MAX_BYTES = 256 * 1024


class ResultCorrupt(Exception):
    """The stored bytes are not those the reference names (size or digest differ)."""


class ResultStore:
    def __init__(self, storage: BlobStorage, *, inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES) -> None:
        self.storage = storage
        self.inline_max_bytes = inline_max_bytes

    async def keep(self, command: JobCommand, result: BaseModel) -> dict[str, Any] | ResultRef:
        """The result to put in the event: itself when its JSON is at most `inline_max_bytes`,
        else a reference to the JSON written to the storage (once: a retry overwrites it)."""
        data = result.model_dump_json().encode()
        if len(data) <= self.inline_max_bytes:
            return result.model_dump(mode="json")
        ref = ResultRef(
            key=result_blob_key(command.tenant, command.job_id),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            content_type=RESULT_CONTENT_TYPE,
        )
        await self.storage.put(ref.key, io.BytesIO(data))
        return ref

    def chunks(self, ref: ResultRef) -> AsyncIterator[bytes]:
        """The stored JSON in chunks, never all of it in memory (`BlobMissing` from the first)."""
        return self.storage.stream(ref.key)

    async def load(self, ref: ResultRef) -> dict[str, Any]:
        """The result itself, checked against the reference."""
        data = await self.storage.get(ref.key)
        if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
            raise ResultCorrupt(f"{ref.key}: {len(data)} bytes do not match the reference")
        loaded: dict[str, Any] = json.loads(data)
        return loaded

    async def sweep(self, older_than: timedelta) -> int:
        """Delete results written more than `older_than` ago: run with the read model's
        finished-job TTL (and a margin), a result outlives the job record that names it by
        that margin at most. Returns how many were deleted."""
        return await self.storage.delete_older_than(RESULTS_PREFIX, datetime.now(UTC) - older_than)
