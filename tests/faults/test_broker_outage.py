"""The broker restarted under load: no accepted job is lost."""

import asyncio

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.faults.helpers import wait_all_terminal
from tests.support.servers import ThrowawayRabbit

pytestmark = pytest.mark.faults


async def test_broker_restart_loses_no_accepted_job(
    fault_stack: Stack, alpha: httpx.AsyncClient, rabbit: ThrowawayRabbit
) -> None:
    accepted: list[str] = []
    statuses: list[int] = []
    stop = asyncio.Event()

    async def keep_submitting() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            body = {"operation": "ner.entities", "input": {"text": f"Marie Curie visited Oslo, day {i}."}}
            try:
                response = await alpha.post("/v1/jobs", json=body, timeout=10)
            except httpx.HTTPError:
                statuses.append(-1)
            else:
                statuses.append(response.status_code)
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
            await asyncio.sleep(0.05)

    submitter = asyncio.create_task(keep_submitting())
    await asyncio.sleep(2)
    await asyncio.to_thread(rabbit.stop_app)
    await asyncio.sleep(3)
    await asyncio.to_thread(rabbit.start_app)
    await asyncio.sleep(8)  # clients reconnect (aio-pika retries every 5 s)
    stop.set()
    await submitter
    assert set(statuses) <= {202, 503}, f"unexpected answers: {set(statuses)}"
    assert statuses.count(503) > 0, "the outage was not noticed"
    assert statuses[-1] == 202, "the API did not recover"
    views = await wait_all_terminal(alpha, accepted, within=120)
    assert {v["status"] for v in views.values()} == {"succeeded"}
    for service in fault_stack.services.values():
        assert service.alive(), service.log_tail()
