"""Pipelines through the whole system: OCR of an uploaded generated PDF, then NER and an LLM
summary of its text in parallel, as one job, with every service a real process. The LLM worker
runs without an endpoint, so the summary is its real extractive one.

The stack here is its own (its own throwaway vhost, so that the session's stack, whose LLM
worker talks to a scripted server, takes none of these jobs), with the pipeline driver, which
one test kills mid-pipeline."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aio_pika
import httpx
import pytest
from redis.asyncio import Redis
from yarl import URL

from shared.schemas.topology import LLM_QUEUE, NER_QUEUE, OCR_QUEUE, PIPELINE_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import follow
from tests.e2e.test_ocr import upload
from tests.support import ocr_samples
from tests.support.infra import Infra
from tools.broker.rabbitmqctl import Rabbitmqctl
from tools.devstack import Launcher, free_port, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SERVICES = ("projector", "ner", "ocr", "llm", "pipeline", "api")
TERMINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="module")
def vhost(infra: Infra) -> Iterator[str]:
    """A throwaway vhost on the test broker, for this module's stack only."""
    ctl = Rabbitmqctl()
    name = f"{urlparse(infra.amqp_url).path.lstrip('/') or 'root'}-pipelines-{uuid.uuid4().hex[:8]}"
    ctl.run("add_vhost", name)
    try:
        ctl.set_permissions(name, urlparse(infra.amqp_url).username or "guest", ".*", ".*", ".*")
        yield str(URL(infra.amqp_url).with_path(f"/{name}"))
    finally:
        ctl.run("delete_vhost", name)


@pytest.fixture(scope="module")
async def pipelines(service_env: dict[str, str], vhost: str, log_dir: Path) -> AsyncIterator[Stack]:
    port = free_port()
    # A Redis database of its own too: the projector keeps its history offset in Redis, and this
    # vhost's stream counts offsets from 0 again (the session stack's offset would skip them).
    redis_url = URL(service_env["REDIS_URL"])
    db = (int(redis_url.path.lstrip("/") or 0) - 1) % 16
    redis_url = redis_url.with_path(f"/{db}")
    own = Redis.from_url(str(redis_url))
    await own.flushdb()
    await own.aclose()
    env = {
        **service_env,
        "AMQP_URL": vhost,
        "REDIS_URL": str(redis_url),
        "JOBS_BROKER_TENANTS": "",  # the session's broker users have no grants on this vhost
        "API_PORT": str(port),
        "OCR_MAX_PAGES": "30",  # the cancel test's scan
        **{f"{name.upper()}_METRICS_PORT": "0" for name in SERVICES},
    }
    env.pop("LLM_BASE_URL", None)  # no endpoint: the LLM worker's own extractive summaries
    connection = await aio_pika.connect_robust(vhost)
    launcher = Launcher(env, log_dir / "pipelines")
    (log_dir / "pipelines").mkdir(exist_ok=True)
    try:
        with launcher:
            services = launcher.start_services(SERVICES)
            stack = Stack(f"http://127.0.0.1:{port}", services, connection)
            await asyncio.to_thread(wait_ready, stack.base_url, services["api"])
            for queue in (NER_QUEUE, OCR_QUEUE, LLM_QUEUE, PIPELINE_QUEUE):
                await stack.wait_consuming(queue.name)
            await stack.wait_reading_history()
            yield stack
    finally:
        await connection.close()


@pytest.fixture
async def client(pipelines: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with pipelines.client("alpha") as c:
        yield c


def ocr_then_entities_and_summary(file_id: str) -> dict[str, Any]:
    return {
        "operation": "pipeline",
        "input": {
            "steps": [
                {"id": "ocr", "operation": "ocr.pdf", "input": {"file_id": file_id}},
                {"id": "entities", "operation": "ner.entities", "after": "ocr"},
                {"id": "summary", "operation": "llm.summarize", "after": "ocr"},
            ]
        },
    }


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["operation"] == "pipeline"
    return str(response.json()["id"])


async def job(client: httpx.AsyncClient, job_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/jobs/{job_id}")
    return dict(response.json()) if response.status_code == 200 else None


async def wait_for(
    client: httpx.AsyncClient, job_id: str, statuses: tuple[str, ...] = TERMINAL, within: float = 180
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        view = await job(client, job_id)
        if view is not None and view["status"] in statuses:
            return view
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} not {statuses} within {within}s: {await job(client, job_id)}")


async def test_ocr_then_entities_and_summary_in_parallel_as_one_pipeline(
    pipelines: Stack, client: httpx.AsyncClient
) -> None:
    sample = ocr_samples.mixed_pdf()
    stored = await upload(client, "mixed.pdf", sample.data)
    pipeline_id = await submit(client, ocr_then_entities_and_summary(stored["id"]))
    events = await follow(client, pipeline_id)
    view = await wait_for(client, pipeline_id)
    assert view["status"] == "succeeded", view

    steps = {s["id"]: s for s in view["result"]["steps"]}
    assert list(steps) == ["ocr", "entities", "summary"]
    for step_id, step in steps.items():
        assert step["job_id"] == f"{pipeline_id}.{step_id}"
        assert step["status"] == "succeeded"
    ocr_text = steps["ocr"]["result"]["text"]
    assert ocr_text.startswith(sample.pages[0])
    assert "Rotterdam" in ocr_text
    # NER read the OCR job's text (offsets point into it), the scanned page's included
    entities = steps["entities"]["result"]["entities"]
    assert all(ocr_text[e["start"] : e["end"]] == e["text"] for e in entities), entities
    assert any(e["start"] > ocr_text.index("\f") for e in entities), entities
    assert ("15 March", "DATE") in {(e["text"], e["label"]) for e in entities}
    summary = steps["summary"]["result"]
    assert summary["method"] == "extractive"
    assert summary["summary"]
    assert set(summary["summary"].split()) <= set(ocr_text.split()), summary  # sentences of the text

    # every step is a job of its own, of the tenant, listed under the pipeline
    assert [(s["id"], s["status"]) for s in view["steps"]] == [
        ("ocr", "succeeded"),
        ("entities", "succeeded"),
        ("summary", "succeeded"),
    ]
    jobs = {s: await job(client, f"{pipeline_id}.{s}") for s in steps}
    assert all(j is not None and j["attempts"] == 1 for j in jobs.values()), jobs
    listed = (await client.get("/v1/jobs", params={"operation": "ner.entities"})).json()["items"]
    assert f"{pipeline_id}.entities" in {j["id"] for j in listed}
    async with pipelines.client("beta") as beta:
        assert (await beta.get(f"/v1/jobs/{pipeline_id}.ocr")).status_code == 404
        assert (await beta.get(f"/v1/jobs/{pipeline_id}")).status_code == 404

    # the followers started together, once OCR had finished, and neither waited for the other
    entities_job, summary_job = jobs["entities"], jobs["summary"]
    assert entities_job is not None
    assert summary_job is not None
    assert jobs["ocr"] is not None
    started = max(entities_job["created_at"], summary_job["created_at"])
    assert jobs["ocr"]["finished_at"] <= min(entities_job["created_at"], summary_job["created_at"])
    assert started <= min(entities_job["finished_at"], summary_job["finished_at"])

    # the pipeline's stream shows its steps' events, and its progress only grows
    progress = [data for kind, _, data in events if kind == "progress"]
    messages = [p["message"] for p in progress]
    # (a step that ends within <PREFIX>_STARTED_EVENT_AFTER publishes no `started`: no "running")
    for expected in ("ocr: succeeded", "entities: succeeded", "summary: succeeded"):
        assert any(m.startswith(expected) for m in messages), messages
    fractions = [p["fraction"] for p in progress]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert events[-1][0] == "succeeded"


async def test_a_bad_pipeline_is_refused_naming_its_step(pipelines: Stack, client: httpx.AsyncClient) -> None:
    body = ocr_then_entities_and_summary("3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e")
    body["input"]["steps"][2]["after"] = "nope"
    refused = await client.post("/v1/jobs", json=body)
    assert refused.status_code == 422
    assert "step 'summary' (steps[2]): after names an unknown step: 'nope'" in refused.text

    async with pipelines.client("beta") as beta:
        stored = await upload(beta, "mixed.pdf", ocr_samples.mixed_pdf().data)
    not_yours = await client.post("/v1/jobs", json=ocr_then_entities_and_summary(stored["id"]))
    assert not_yours.status_code == 404
    assert "step 'ocr'" in not_yours.text


async def test_a_failed_step_fails_the_pipeline_with_its_code_and_id(
    pipelines: Stack, client: httpx.AsyncClient
) -> None:
    stored = await upload(client, "corrupt.pdf", ocr_samples.corrupt_pdf())
    pipeline_id = await submit(client, ocr_then_entities_and_summary(stored["id"]))
    view = await wait_for(client, pipeline_id)
    assert view["status"] == "failed", view
    assert view["error"]["code"] == "corrupt_file"
    assert f"step 'ocr' (job {pipeline_id}.ocr)" in view["error"]["message"]
    assert [(s["id"], s["status"]) for s in view["steps"]] == [
        ("ocr", "failed"),
        ("entities", "pending"),
        ("summary", "pending"),
    ]
    assert await job(client, f"{pipeline_id}.entities") is None  # never started


def long_scan(pages: int = 5) -> bytes:
    """Scanned pages (five: OCR takes seconds, time for a crash meanwhile)."""
    paragraphs = ocr_samples.PARAGRAPHS * (pages // len(ocr_samples.PARAGRAPHS) + 1)
    return ocr_samples.scanned_pdf(paragraphs[:pages]).data


async def wait_step_running(client: httpx.AsyncClient, pipeline_id: str, step: str) -> None:
    deadline = asyncio.get_running_loop().time() + 120
    while asyncio.get_running_loop().time() < deadline:
        view = await job(client, f"{pipeline_id}.{step}")
        if view is not None and view["status"] == "running":
            return
        assert view is None or view["status"] not in TERMINAL, view
        await asyncio.sleep(0.1)
    raise AssertionError(f"step {step} never ran")


async def test_cancelling_a_pipeline_cancels_its_running_step_and_starts_no_more(
    pipelines: Stack, client: httpx.AsyncClient
) -> None:
    # thirty pages: seconds of OCR left when the step shows running, on a fast machine too
    stored = await upload(client, "scan.pdf", long_scan(30))
    pipeline_id = await submit(client, ocr_then_entities_and_summary(stored["id"]))
    await wait_step_running(client, pipeline_id, "ocr")
    assert (await client.post(f"/v1/jobs/{pipeline_id}/cancel")).status_code == 202
    view = await wait_for(client, pipeline_id, within=30)
    assert view["status"] == "cancelled", view
    ocr = await wait_for(client, f"{pipeline_id}.ocr", within=30)
    assert ocr["status"] == "cancelled", ocr
    await asyncio.sleep(2)  # what the driver would have started by now
    assert await job(client, f"{pipeline_id}.entities") is None
    assert await job(client, f"{pipeline_id}.summary") is None


async def test_a_pipeline_finishes_when_its_driver_is_killed_mid_run(
    pipelines: Stack, client: httpx.AsyncClient
) -> None:
    stored = await upload(client, "scan.pdf", long_scan())
    pipeline_id = await submit(client, ocr_then_entities_and_summary(stored["id"]))
    await wait_step_running(client, pipeline_id, "ocr")
    driver = pipelines.services["pipeline"]
    driver.kill()  # SIGKILL: no drain, no offset saved on the way out
    try:
        # the step runs on, and ends, while no driver is there to see it
        ocr = await wait_for(client, f"{pipeline_id}.ocr", within=120)
        assert ocr["status"] == "succeeded", ocr
        assert await job(client, f"{pipeline_id}.entities") is None
    finally:
        driver.start()
    await pipelines.wait_consuming(PIPELINE_QUEUE.name)
    view = await wait_for(client, pipeline_id, within=120)
    assert view["status"] == "succeeded", (view, driver.log_tail())
    assert [s["status"] for s in view["result"]["steps"]] == ["succeeded"] * 3
    for step in ("ocr", "entities", "summary"):
        step_job = await job(client, f"{pipeline_id}.{step}")
        assert step_job is not None
        assert step_job["attempts"] == 1, step_job  # no step started twice
    assert view["result"]["steps"][2]["result"]["method"] == "extractive"
