"""A worker killed (SIGKILL) with jobs in flight: every job succeeds exactly once."""

import asyncio

import httpx
import pytest

from shared.schemas.topology import NER_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import submit
from tests.faults.helpers import SENTENCE, history, wait_all_terminal

pytestmark = pytest.mark.faults


async def test_sigkill_with_jobs_in_flight_every_job_succeeds_once(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    jobs = [await submit(alpha, SENTENCE * 60) for _ in range(30)]  # ~5,400 chars, 3 chunks each
    await asyncio.sleep(0.5)
    fault_stack.services["ner"].kill()
    fault_stack.services["ner"].start()
    views = await wait_all_terminal(alpha, [j["id"] for j in jobs])
    assert {v["status"] for v in views.values()} == {"succeeded"}
    assert {v["attempts"] for v in views.values()} == {1}
    for job in jobs[:5]:
        assert (await history(alpha, job["id"])).count("succeeded") == 1
    await fault_stack.wait_consuming(NER_QUEUE.name)
