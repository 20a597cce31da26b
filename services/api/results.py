"""Serving a job's result kept by reference (shared/results.py) exactly as an inline one:
the same JSON, streamed from the file storage chunk by chunk rather than read into memory,
parsed and encoded again."""

import json
from collections.abc import AsyncIterator

from fastapi import HTTPException, status
from fastapi.responses import StreamingResponse

from services.api.errors import unavailable
from shared.results import ResultStore
from shared.schemas import JobView, ResultRef
from shared.storage import BlobMissing, StorageUnavailable

__all__ = ["job_body", "result_body"]

JSON = "application/json"


async def _stream(results: ResultStore, ref: ResultRef, head: bytes, tail: bytes) -> StreamingResponse:
    """`head`, the stored result, `tail`: the first chunk is read before answering, so a
    missing blob or an unavailable storage is an error status, not a cut-off 200."""
    chunks = results.chunks(ref)
    try:
        first = await anext(chunks, b"")
    except BlobMissing as exc:
        raise HTTPException(status.HTTP_410_GONE, "the job's result is no longer stored") from exc
    except StorageUnavailable as exc:
        raise unavailable("file storage", exc) from exc

    async def body() -> AsyncIterator[bytes]:
        yield head + first
        async for chunk in chunks:
            yield chunk
        yield tail

    length = len(head) + ref.size + len(tail)
    return StreamingResponse(body(), media_type=JSON, headers={"Content-Length": str(length)})


async def job_body(view: JobView, results: ResultStore) -> JobView | StreamingResponse:
    """The job as `GET /v1/jobs/{id}` serves it: a by-reference result spliced in where an
    inline one would be (`result_ref` stays null, as for every job there)."""
    if view.result_ref is None:
        return view
    fields = view.model_dump_json(exclude={"result", "result_ref"}).encode()
    return await _stream(results, view.result_ref, fields[:-1] + b',"result":', b',"result_ref":null}')


async def result_body(view: JobView, results: ResultStore) -> StreamingResponse | bytes:
    """`GET /v1/jobs/{id}/result`: the result alone (409 until the job has succeeded)."""
    if view.result_ref is not None:
        return await _stream(results, view.result_ref, b"", b"")
    if view.result is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the job has no result: it is {view.status.value}")
    return json.dumps(view.result, separators=(",", ":")).encode()
