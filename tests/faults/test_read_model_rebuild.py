"""Redis loses the read model while jobs run: the projector notices and rebuilds it from the job
history stream, without a restart, while new jobs keep running; afterwards the API answers
exactly as before the loss (issue #13)."""

import asyncio
import time

import httpx
import pytest
from redis.asyncio import Redis

from shared import redis_keys as keys
from tests.e2e.conftest import Stack
from tests.e2e.helpers import follow, submit
from tests.faults.helpers import wait_all_terminal
from tests.support.servers import ThrowawayRedis

pytestmark = pytest.mark.faults

TEXTS = [
    f"{who} met {whom} in {where}.\n"
    for who, whom, where in (
        ("Angela Merkel", "Barack Obama", "Berlin"),
        ("Ada Lovelace", "Charles Babbage", "London"),
        ("Marie Curie", "Pierre Curie", "Paris"),
        ("Nelson Mandela", "Desmond Tutu", "Johannesburg"),
    )
]
JOBS = 200


@pytest.mark.timeout(480)  # 200 NER jobs on a shared two-core machine
async def test_a_flushed_read_model_is_rebuilt_while_200_jobs_run(
    fault_stack: Stack, alpha: httpx.AsyncClient, fault_redis: ThrowawayRedis
) -> None:
    # finished before the loss: one job per text (its result is the right one for that text)
    stamp = time.time_ns()
    idempotency = [f"ref-{stamp}-{i}" for i in range(len(TEXTS))]
    pairs = zip(idempotency, TEXTS, strict=True)
    references = [await submit(alpha, text, **{"Idempotency-Key": key}) for key, text in pairs]
    done = await wait_all_terminal(alpha, [r["id"] for r in references])
    before = {job_id: (await alpha.get(f"/v1/jobs/{job_id}")).json() for job_id in done}
    sse_before = {job_id: await follow(alpha, job_id, last_event_id=0) for job_id in done}
    right = {text: before[r["id"]]["result"] for text, r in zip(TEXTS, references, strict=True)}
    assert all(before[r["id"]]["status"] == "succeeded" for r in references)

    redis = Redis.from_url(fault_redis.url, decode_responses=True)
    try:
        texts: dict[str, str] = {}
        submitting = asyncio.Semaphore(20)

        async def one(i: int) -> None:
            async with submitting:
                job = await submit(alpha, TEXTS[i % len(TEXTS)])
                texts[job["id"]] = TEXTS[i % len(TEXTS)]

        await asyncio.gather(*(one(i) for i in range(JOBS // 2)))
        await redis.flushdb()  # the read model is lost while the first half runs
        lost_at = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(JOBS // 2, JOBS)))
        noticed = None
        while noticed is None:
            rebuild = await redis.hgetall(keys.HISTORY_REBUILD)
            if rebuild.get("reason") == "lost" and float(rebuild["started_at"]) > time.time() - 60:
                noticed = time.monotonic() - lost_at
            else:
                assert time.monotonic() - lost_at < 30, "the loss was not noticed within 30 s"
                await asyncio.sleep(0.2)

        views = await wait_all_terminal(alpha, list(texts), within=240)
        wrong = {
            j: v["status"]
            for j, v in views.items()
            if v["status"] != "succeeded" or v["result"] != right[texts[j]]
        }
        assert not wrong, f"{len(wrong)} jobs ended wrong after the rebuild, e.g. {list(wrong.items())[:3]}"

        # a job finished before the loss answers exactly as before, its events too
        for job_id, view in before.items():
            assert (await alpha.get(f"/v1/jobs/{job_id}")).json() == view
            events = sse_before[job_id]
            for i, (_, event_id, _) in enumerate(events[:-1]):
                assert await follow(alpha, job_id, last_event_id=event_id) == events[i + 1 :]
        # the Idempotency-Keys came back from the commands in the history: same key, same job
        for key, text, reference in zip(idempotency, TEXTS, references, strict=True):
            again = await alpha.post(
                "/v1/jobs",
                json={"operation": "ner.entities", "input": {"text": text}},
                headers={"Idempotency-Key": key},
            )
            assert again.json()["id"] == reference["id"], again.text
        rebuilt = await redis.hgetall(keys.HISTORY_REBUILD)
        assert rebuilt["state"] == "done"
        assert fault_stack.services["projector"].alive()
        print(f"loss noticed after {noticed:.1f}s; replay: {rebuilt}")
    finally:
        await redis.aclose()
