"""Redis frozen: the API answers 503 and the state converges once it is back."""

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from shared import redis_keys as keys
from tests.e2e.conftest import Stack
from tests.e2e.helpers import submit
from tests.faults.helpers import SENTENCE, wait_all_terminal
from tests.support.servers import ThrowawayRabbit, ThrowawayRedis

pytestmark = pytest.mark.faults


async def test_frozen_redis_answers_503_and_state_converges(
    fault_stack: Stack, alpha: httpx.AsyncClient, fault_redis: ThrowawayRedis, rabbit: ThrowawayRabbit
) -> None:
    before = [await submit(alpha, SENTENCE * 30) for _ in range(10)]
    redis = Redis.from_url(fault_redis.url, decode_responses=True)
    rebuilt_before = await redis.hget(keys.HISTORY_REBUILD, "started_at")
    fault_redis.freeze()
    try:
        during = await alpha.post("/v1/jobs", json={"operation": "ner.entities", "input": {"text": "Lima"}})
        assert during.status_code == 202  # the broker has it; its record catches up later
        read = await alpha.get(f"/v1/jobs/{before[0]['id']}")
        assert read.status_code == 503
        assert "unavailable" in read.json()["detail"]
        assert (await alpha.get("/readyz")).status_code == 503
        await asyncio.sleep(1.5)
    finally:
        fault_redis.thaw()
    views = await wait_all_terminal(alpha, [j["id"] for j in before] + [during.json()["id"]])
    assert {v["status"] for v in views.values()} == {"succeeded"}
    # the history stream keeps every record whatever the projector acks; the read model says how far
    # it has folded it, and nothing was rebuilt: a frozen Redis lost nothing
    assert int(await redis.get(keys.HISTORY_OFFSET) or -1) >= 0
    assert await redis.hget(keys.HISTORY_REBUILD, "started_at") == rebuilt_before
    await redis.aclose()
    assert fault_stack.services["projector"].alive()
