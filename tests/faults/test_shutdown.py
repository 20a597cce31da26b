"""SIGTERM: a worker finishes short jobs and hands long ones back."""

import asyncio
import signal
import time

import httpx
import pytest

from shared.schemas.topology import NER_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import submit
from tests.faults.helpers import SENTENCE, history, wait_all_terminal

pytestmark = pytest.mark.faults


async def test_sigterm_finishes_short_jobs_and_hands_back_long_ones(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    ner = fault_stack.services["ner"]
    long_job = await submit(alpha, SENTENCE * 3000)
    for _ in range(200):
        if (await alpha.get(f"/v1/jobs/{long_job['id']}")).json()["status"] == "running":
            break
        await asyncio.sleep(0.05)
    short_job = await submit(alpha, "Alan Turing was born in London.")
    await asyncio.sleep(0.3)
    asked = time.monotonic()
    ner.signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(ner.stop, 20)
    assert exit_code == 0
    assert time.monotonic() - asked < 8  # grace (2 s) plus hand-back, not the whole job
    assert (await alpha.get(f"/v1/jobs/{short_job['id']}")).json()["status"] == "succeeded"
    assert (await alpha.get(f"/v1/jobs/{long_job['id']}")).json()["status"] == "running"
    ner.start()
    views = await wait_all_terminal(alpha, [long_job["id"]])
    assert views[long_job["id"]]["status"] == "succeeded"
    assert (await history(alpha, long_job["id"])).count("succeeded") == 1
    await fault_stack.wait_consuming(NER_QUEUE.name)
