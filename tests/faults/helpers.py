"""What the fault tests share: a sentence to feed the NER worker, waiting for many jobs to
end, a job's event history."""

import asyncio
import time

import httpx

from tests.e2e.helpers import follow

SENTENCE = "Angela Merkel met executives of Siemens in Berlin. Ada Lovelace wrote to Charles Babbage.\n"


async def wait_all_terminal(client: httpx.AsyncClient, ids: list[str], within: float = 90) -> dict[str, dict]:  # type: ignore[type-arg]
    views: dict[str, dict] = {}  # type: ignore[type-arg]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for job_id in ids:
            if job_id in views:
                continue
            response = await client.get(f"/v1/jobs/{job_id}")
            if response.status_code == 200 and response.json()["status"] in (
                "succeeded",
                "failed",
                "cancelled",
            ):
                views[job_id] = response.json()
        if len(views) == len(ids):
            return views
        await asyncio.sleep(0.2)
    missing = [j for j in ids if j not in views]
    raise AssertionError(f"{len(missing)} jobs never ended, e.g. {missing[:3]}")


async def history(client: httpx.AsyncClient, job_id: str) -> list[str]:
    return [kind for kind, _, _ in await follow(client, job_id, last_event_id=0)]
