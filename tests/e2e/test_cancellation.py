"""Cancelling a job over HTTP."""

import asyncio
import time

import httpx
import pytest

from tests.e2e.helpers import final_status, follow, submit

pytestmark = pytest.mark.e2e


LONG_TEXT = "Grace Hopper worked on the Harvard Mark I in Cambridge.\n" * 6000  # ~340,000 chars


async def test_cancelling_a_running_job_stops_it_within_two_seconds(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    job = await submit(alpha, LONG_TEXT)
    for _ in range(400):
        view = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
        if view["status"] == "running" and view["progress"]["fraction"] > 0:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the job never got going")
    assert (await beta.post(f"/v1/jobs/{job['id']}/cancel")).status_code == 404
    asked = time.monotonic()
    response = await alpha.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 202
    while (await alpha.get(f"/v1/jobs/{job['id']}")).json()["status"] != "cancelled":
        assert time.monotonic() - asked < 2.0, "still not cancelled after 2 s"
        await asyncio.sleep(0.05)
    events = await follow(alpha, job["id"], last_event_id=0)
    assert final_status(events) == "cancelled"
    assert "succeeded" not in [kind for kind, _, _ in events]
    # the worker is free again
    after = await submit(alpha, "Barack Obama visited Paris.")
    assert final_status(await follow(alpha, after["id"])) == "succeeded"
    conflict = await alpha.post(f"/v1/jobs/{job['id']}/cancel")
    assert conflict.status_code == 409
    assert "cancelled" in conflict.json()["detail"]
