"""A broker the API cannot reach means 503, never a phantom job."""

import asyncio
import re
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import final_status, follow, submit
from tests.support.proxy import CuttableProxy
from tools.devstack import ServiceProcess, free_port, wait_ready, wait_until

pytestmark = pytest.mark.e2e


async def test_broker_unreachable_means_503_and_no_phantom_job(
    stack: Stack, service_env: dict[str, str], log_dir: Path
) -> None:
    broker = urlparse(service_env["AMQP_URL"])
    proxy = await CuttableProxy(broker.hostname or "127.0.0.1", broker.port or 5672).start()
    proxied_url = service_env["AMQP_URL"].replace(
        f"{broker.hostname}:{broker.port}", f"127.0.0.1:{proxy.port}"
    )
    port = free_port()
    api = ServiceProcess(
        "api", {**service_env, "AMQP_URL": proxied_url, "API_PORT": str(port)}, log_dir
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, base, api)
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {KEYS['beta']}"}
        ) as beta:
            before = await submit(beta, "Oslo is in Norway.")
            await proxy.cut()
            response = await beta.post(  # the API waits up to API_PUBLISH_TIMEOUT for a node
                "/v1/jobs", json={"operation": "ner.entities", "input": {"text": "Lima"}}, timeout=60
            )
            assert response.status_code == 503, response.text
            detail = response.json()["detail"]
            assert "not accepted" in detail
            # what to do and a trace to quote; the broker's address and error only in the log
            assert str(proxy.port) not in detail
            assert "Error" not in detail
            trace_id = re.search(r"trace ([0-9a-f]{32})", detail)
            assert trace_id, detail
            logged = [line for line in api.log_text().splitlines() if trace_id[1] in line]
            assert any("broker unavailable" in line for line in logged), logged
            assert response.headers["retry-after"]
            assert (await beta.get("/readyz")).status_code == 503

            listed = (await beta.get("/v1/jobs", params={"limit": 200})).json()["items"]
            assert [j["id"] for j in listed if j["status"] == "queued"] in ([], [before["id"]])
            assert not [j for j in listed if j["error"]], "a refused submission left a record"

            await proxy.restore()
            await asyncio.to_thread(
                wait_until, lambda: httpx.get(f"{base}/readyz").status_code == 200, 30, "reconnect"
            )
            after = await submit(beta, "Lima is in Peru.")
            for job in (before, after):
                assert final_status(await follow(beta, job["id"])) == "succeeded"
    finally:
        api.stop()
        await proxy.cut()
