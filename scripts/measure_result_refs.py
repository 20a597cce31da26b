"""Results by reference, measured: the `succeeded` event's size and the Redis memory of a job
with a 1 MB result, inline (as before) and by reference. Uses Redis (REDIS_URL, default db 15)
and a temporary local storage; nothing else. Not a test: `make measure-result-refs`."""

import asyncio
import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from shared import redis_keys as keys
from shared.readmodel import JobStore
from shared.results import ResultStore
from shared.schemas import JobCommand, JobTimeline, OcrPage, OcrResult, ResultRef
from shared.storage import LocalStorage


def one_megabyte_result() -> OcrResult:
    line = "Invoice 2024-0193: total 1,234.56 EUR due on 15 March, paid by Ada Lovelace.\n"
    pages = [line * 62 for _ in range(105)]  # 105 pages of ~5 KB of text, twice in the JSON
    return OcrResult(
        pages=[OcrPage(number=n + 1, text=t, method="ocr", confidence=0.9) for n, t in enumerate(pages)],
        text="\f".join(pages),
        engine="measure",
    )


async def job_memory(redis: Redis, job_id: str) -> int:
    total = 0
    for key in (keys.job_key(job_id), keys.log_key(job_id), keys.result_key(job_id)):
        total += int(await redis.memory_usage(key, samples=0) or 0)
    return total


async def main() -> None:
    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"), decode_responses=True)
    jobs = JobStore(redis, finished_ttl=600)
    result = one_megabyte_result()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, limit in (("inline (before)", 10**9), ("by reference (after)", 256 * 1024)):
            command = JobCommand(
                job_id=str(uuid.uuid4()),
                tenant="measure",
                operation="ocr.pdf",
                input={"file_id": "0" * 32},
                created_at=datetime.now(UTC),
            )
            kept = await ResultStore(LocalStorage(Path(tmp)), inline_max_bytes=limit).keep(command, result)
            timeline = JobTimeline.new(command)
            queued = timeline.queued()
            started = timeline.started()
            succeeded = (
                timeline.succeeded(ref=kept) if isinstance(kept, ResultRef) else timeline.succeeded(kept)
            )
            for event in (queued, started, succeeded):
                await jobs.apply(event)
            rows.append((label, len(succeeded.model_dump_json()), await job_memory(redis, command.job_id)))
            await redis.delete(*(k(command.job_id) for k in (keys.job_key, keys.log_key, keys.result_key)))
    print(f"result JSON: {len(result.model_dump_json()):,} bytes")
    print("| | succeeded event (bytes) | Redis, job's keys (bytes, MEMORY USAGE) |")
    print("|---|---|---|")
    for label, event_size, memory in rows:
        print(f"| {label} | {event_size:,} | {memory:,} |")
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
