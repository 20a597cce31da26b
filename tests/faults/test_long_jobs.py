"""A job longer than the broker's consumer timeout completes, run once."""

import asyncio
from datetime import datetime

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import final_status, follow, submit
from tests.faults.helpers import SENTENCE, history
from tests.support.servers import ThrowawayRabbit

pytestmark = pytest.mark.faults


async def test_a_job_longer_than_the_consumer_timeout_completes(
    fault_stack: Stack, alpha: httpx.AsyncClient, rabbit: ThrowawayRabbit
) -> None:
    assert "5000" in await asyncio.to_thread(
        rabbit.ctl, "eval", "application:get_env(rabbit, consumer_timeout)."
    )
    job = await submit(alpha, SENTENCE * 6000)  # ~540,000 chars
    events = await follow(alpha, job["id"])
    assert final_status(events) == "succeeded"
    view = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
    took = datetime.fromisoformat(view["finished_at"]) - datetime.fromisoformat(view["started_at"])
    assert took.total_seconds() > 7, "the job was too short to prove anything"
    assert view["attempts"] == 1
    assert (await history(alpha, job["id"])).count("started") == 1, "the delivery was taken away and rerun"
    assert "lease held" in fault_stack.services["ner"].log_tail(200)
