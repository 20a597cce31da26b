"""Per-tenant limits on a second API process with small limits, beside the session's stack
(its workers and projector run these jobs): each limit answers its tenant clearly, is counted
per tenant in /metrics, and costs the other tenants nothing."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.conftest import Stack
from tests.e2e.helpers import final_status, follow, submit
from tests.support.chat_server import Reply, ScriptedChatServer
from tools.devstack import ServiceProcess, free_port, wait_ready

pytestmark = pytest.mark.e2e

TENANTS = ("rate-a", "rate-b", "streams-a", "streams-b", "files", "active", "active-b", "quota")
BURST = 5
MAX_STREAMS = 2
MAX_STORAGE = 3000
FILE_TTL_SECONDS = 5.0
MAX_ACTIVE = 2
PNG = b"\x89PNG\r\n\x1a\n" + bytes(2000)  # typed from its first bytes: 2008 bytes of "PNG"


def key(tenant: str) -> str:
    return f"key-{tenant}-0123456789"


class Limited:
    def __init__(self, base_url: str, metrics_url: str, process: ServiceProcess) -> None:
        self.base_url = base_url
        self.metrics_url = metrics_url
        self.process = process
        self.active: Limited

    def client(self, tenant: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {key(tenant)}"}, timeout=30
        )

    def ws_url(self, path: str, tenant: str) -> str:
        return self.base_url.replace("http://", "ws://") + f"{path}?access_token={key(tenant)}"

    async def limited(self, tenant: str, limit: str) -> float:
        """`tenant_limited{tenant, limit}` from this API's /metrics."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(self.metrics_url)).text
        wanted = f'tenant_limited_total{{limit="{limit}",tenant="{tenant}"}}'
        return next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(wanted)), 0.0)


def start_limited(name: str, limits: dict[str, str], service_env: dict[str, str], log_dir: Path) -> Limited:
    port, metrics_port = free_port(), free_port()
    env = {
        **service_env,
        "API_PORT": str(port),
        "API_METRICS_PORT": str(metrics_port),
        "JOBS_API_KEYS": ",".join(f"{t}:{key(t)}" for t in TENANTS),
        **limits,
    }
    process = ServiceProcess("api", env, log_dir, name=name).start()
    return Limited(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", process)


@pytest.fixture(scope="module")
def limited(stack: Stack, service_env: dict[str, str], log_dir: Path) -> Iterator[Limited]:
    """An API with small limits on rate, streams and storage; a second one, `.active`, with
    only a small active-jobs limit (which the others' concurrent submissions would race)."""
    api = start_limited(
        "api-limited",
        {
            "API_TENANT_SUBMIT_RATE": "0.5",
            "API_TENANT_SUBMIT_BURST": str(BURST),
            "API_TENANT_MAX_STREAMS": str(MAX_STREAMS),
            "API_TENANT_MAX_STORAGE_BYTES": str(MAX_STORAGE),
            "API_FILE_TTL_DAYS": repr(FILE_TTL_SECONDS / 86400),
            "API_TENANT_MAX_ACTIVE_JOBS": "0",
        },
        service_env,
        log_dir,
    )
    api.active = start_limited(
        "api-limited-active", {"API_TENANT_MAX_ACTIVE_JOBS": str(MAX_ACTIVE)}, service_env, log_dir
    )
    try:
        wait_ready(api.base_url, api.process)
        wait_ready(api.active.base_url, api.active.process)
        yield api
    finally:
        api.process.stop()
        api.active.process.stop()


@pytest.fixture
async def clients(limited: Limited) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    opened = {t: limited.client(t) for t in TENANTS}
    yield opened
    for client in opened.values():
        await client.aclose()


async def test_a_tenant_over_its_rate_gets_429_while_another_submits(
    limited: Limited, clients: dict[str, httpx.AsyncClient]
) -> None:
    a, b = clients["rate-a"], clients["rate-b"]
    body = {"operation": "ner.entities", "input": {"text": "Ada Lovelace lived in London."}}
    flood = await asyncio.gather(*(a.post("/v1/jobs", json=body) for _ in range(BURST + 20)))
    assert sorted(r.status_code for r in flood) == [202] * BURST + [429] * 20
    refused = next(r for r in flood if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert "too many submissions" in refused.json()["detail"]
    # the other tenant, at the same moment: its whole burst accepted, its jobs run
    accepted = await asyncio.gather(
        *(submit(b, f"Alan Turing visited Oslo on day {i}.") for i in range(BURST))
    )
    refused_again = await a.post("/v1/jobs", json=body)
    assert refused_again.status_code == 429
    for job in accepted:
        assert final_status(await follow(b, job["id"])) == "succeeded"
    assert await limited.limited("rate-a", "submit_rate") == 21
    assert await limited.limited("rate-b", "submit_rate") == 0
    await asyncio.sleep(int(refused_again.headers["retry-after"]))
    assert (await a.post("/v1/jobs", json=body)).status_code == 202


async def sse_open(client: httpx.AsyncClient, path: str) -> tuple[Any, httpx.Response]:
    stream = client.stream("GET", path, timeout=30)
    response = await stream.__aenter__()
    return stream, response


async def test_a_tenant_at_its_stream_cap_gets_429_and_4429_while_another_streams(
    limited: Limited, clients: dict[str, httpx.AsyncClient]
) -> None:
    a, b = clients["streams-a"], clients["streams-b"]
    job = await submit(a, "Grace Hopper joined the US Navy in New York.")
    opened = [await sse_open(a, "/v1/events") for _ in range(MAX_STREAMS)]
    try:
        assert [r.status_code for _, r in opened] == [200] * MAX_STREAMS
        over = await a.get("/v1/events")
        assert over.status_code == 429
        assert f"{MAX_STREAMS} streams of this tenant are open" in over.json()["detail"]
        assert (await a.get(f"/v1/jobs/{job['id']}/events")).status_code == 429
        async with websockets.connect(limited.ws_url(f"/v1/jobs/{job['id']}/ws", "streams-a")) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4429
        # the other tenant streams as usual meanwhile, over SSE and WebSocket
        other = await submit(b, "Marie Curie lived in Paris.")
        assert final_status(await follow(b, other["id"])) == "succeeded"
        async with websockets.connect(limited.ws_url(f"/v1/jobs/{other['id']}/ws", "streams-b")) as ws:
            messages = [json.loads(raw) async for raw in ws]
        assert messages[0]["event"] == "snapshot"
        assert await limited.limited("streams-a", "streams") == 3
    finally:
        for stream, _ in opened[1:]:
            await stream.__aexit__(None, None, None)
    # a closed stream gives its slot back (once the server notices, at the next keep-alive)
    deadline = time.monotonic() + 10
    while (reopened := await a.get(f"/v1/jobs/{job['id']}/events")).status_code == 429:
        assert time.monotonic() < deadline, "the closed stream's slot was never released"
        await asyncio.sleep(0.2)
    assert reopened.status_code == 200
    await opened[0][0].__aexit__(None, None, None)


async def test_storage_quota_answers_413_and_expired_files_answer_404(
    limited: Limited, clients: dict[str, httpx.AsyncClient], service_env: dict[str, str]
) -> None:
    client = clients["files"]

    async def upload() -> httpx.Response:
        return await client.post("/v1/files", files={"file": ("x.png", PNG, "image/png")})

    first = await upload()
    assert first.status_code == 201, first.text
    full = await upload()
    assert full.status_code == 413
    assert f"keeps {len(PNG)} of {MAX_STORAGE} bytes" in full.json()["detail"]
    assert (await client.delete(f"/v1/files/{first.json()['id']}")).status_code == 204
    second = await upload()
    assert second.status_code == 201
    stored = second.json()
    expires = datetime.fromisoformat(stored["expires_at"])
    assert 0 < (expires - datetime.fromisoformat(stored["created_at"])).total_seconds() <= FILE_TTL_SECONDS
    assert (await client.get(f"/v1/files/{stored['id']}")).status_code == 200
    await asyncio.sleep(FILE_TTL_SECONDS + 1.1)  # the ledger's clock counts whole seconds
    assert (await client.get(f"/v1/files/{stored['id']}")).status_code == 404
    assert (await client.delete(f"/v1/files/{stored['id']}")).status_code == 404
    job = await client.post("/v1/jobs", json={"operation": "ocr.image", "input": {"file_id": stored["id"]}})
    assert job.status_code == 404
    # the expired file no longer counts, and the next upload deletes its blobs
    assert (await upload()).status_code == 201
    metas = await asyncio.to_thread(
        lambda: list(Path(service_env["STORAGE_DIR"]).glob("files/*/*/meta.json"))
    )
    stored_dirs = [p.parent.name for p in metas]
    assert stored["id"] not in stored_dirs
    assert await limited.limited("files", "storage_bytes") == 1


async def test_a_tenant_at_its_active_jobs_limit_gets_429_until_one_ends(
    limited: Limited, chat_server: ScriptedChatServer
) -> None:
    chat_server.reset(lambda request: Reply("Slow.", delay=60))  # the jobs stay running
    async with limited.active.client("active") as client, limited.active.client("active-b") as other:
        await _active_jobs_limit(limited.active, client, other)


async def _active_jobs_limit(api: Limited, client: httpx.AsyncClient, other: httpx.AsyncClient) -> None:
    body = {"operation": "llm.summarize", "input": {"text": "It rained all day in the valley."}}
    jobs = [await client.post("/v1/jobs", json=body) for _ in range(MAX_ACTIVE)]
    assert [r.status_code for r in jobs] == [202] * MAX_ACTIVE
    over = await client.post("/v1/jobs", json=body)
    assert over.status_code == 429
    assert f"{MAX_ACTIVE} jobs of this tenant are queued or running" in over.json()["detail"]
    others = [await other.post("/v1/jobs", json=body) for _ in range(MAX_ACTIVE)]  # others unaffected
    assert [r.status_code for r in others] == [202] * MAX_ACTIVE
    cancelled = jobs[0].json()["id"]
    assert (await client.post(f"/v1/jobs/{cancelled}/cancel")).status_code == 202
    assert final_status(await follow(client, cancelled)) == "cancelled"
    again = await client.post("/v1/jobs", json=body)
    assert again.status_code == 202, again.text
    for job_id in (jobs[1].json()["id"], again.json()["id"]):
        await client.post(f"/v1/jobs/{job_id}/cancel")
    for job in others:
        await other.post(f"/v1/jobs/{job.json()['id']}/cancel")
    assert await api.limited("active", "active_jobs") == 1


async def test_a_tenant_past_its_daily_llm_tokens_fails_quota_exceeded_before_the_call(
    stack: Stack, clients: dict[str, httpx.AsyncClient], chat_server: ScriptedChatServer
) -> None:
    # The worker's default budget, 2,000,000 tokens a day: the first job reports nearly all of it.
    chat_server.reset(lambda request: Reply("Rain fell.", usage=(1_999_950, 0)))
    client = clients["quota"]
    body = {"operation": "llm.summarize", "input": {"text": "It rained all day in the valley."}}
    first = (await client.post("/v1/jobs", json=body)).json()
    assert final_status(await follow(client, first["id"])) == "succeeded"
    second = (await client.post("/v1/jobs", json=body)).json()
    assert final_status(await follow(client, second["id"])) == "failed"
    error = (await client.get(f"/v1/jobs/{second['id']}")).json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "1999950 are used" in error["message"]
    assert len(chat_server.requests) == 1  # the second job's call was never made
    async with httpx.AsyncClient() as plain:
        metrics = (await plain.get(stack.metrics["llm"])).text
    assert 'tenant_limited_total{limit="llm_daily_tokens",tenant="quota"} 1.0' in metrics
    assert 'tenant_llm_tokens_total{tenant="quota"} 1.99995e+06' in metrics
