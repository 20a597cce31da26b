"""What the fault tests share: the NER stack they run, a sentence to feed the NER worker,
waiting for many jobs to end, a job's event history."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aio_pika
import httpx

from shared.broker_cluster import connect_cluster
from shared.schemas.topology import NER_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import follow
from tools.devstack import Launcher, free_port, wait_ready


@asynccontextmanager
async def ner_stack(env: dict[str, str], logs: Path, *, within: float = 60) -> AsyncIterator[Stack]:
    """The projector, the NER worker and the API on `env` (its AMQP_URL may list a cluster's
    nodes), ready: the API answers, the worker consumes, the projector reads the history."""
    port = free_port()
    launcher = Launcher({**env, "API_PORT": str(port)}, logs)
    try:
        services = launcher.start_services(("projector", "ner", "api"))
        amqp: aio_pika.abc.AbstractRobustConnection = await connect_cluster(env["AMQP_URL"])
        stack = Stack(f"http://127.0.0.1:{port}", services, amqp)
        try:
            await asyncio.to_thread(wait_ready, stack.base_url, services["api"], within)
            await stack.wait_consuming(NER_QUEUE.name, within=within)
            await stack.wait_reading_history(within=within)
            yield stack
        finally:
            await amqp.close()
    finally:
        launcher.stop()


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
