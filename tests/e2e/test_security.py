"""The API as a tenant could attack it: keys in URLs, hostile schemas, ids that are no ids."""

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import final_status, follow, submit
from tests.support.chat_server import Reply, ScriptedChatServer

pytestmark = pytest.mark.e2e


async def test_a_key_in_the_query_opens_streams_only_and_never_reaches_the_log(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    job = await submit(alpha, "Ada Lovelace met Charles Babbage in London.")
    final_status(await follow(alpha, job["id"]))
    key = KEYS["alpha"]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as anonymous:
        assert (await anonymous.get("/v1/jobs", params={"access_token": key})).status_code == 401
        assert (await anonymous.get(f"/v1/jobs/{job['id']}", params={"access_token": key})).status_code == 401
        async with anonymous.stream(
            "GET", f"/v1/jobs/{job['id']}/events", params={"access_token": key}
        ) as stream:
            assert stream.status_code == 200
            body = "".join([line async for line in stream.aiter_lines()])
    assert "event: snapshot" in body
    await asyncio.sleep(0.5)  # the access log line is written after the response
    log = stack.services["api"].log_text()
    assert f"/v1/jobs/{job['id']}/events?<redacted>" in log
    assert key not in log


def _deep(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"$ref": "http://169.254.169.254/latest/meta-data/"}, "only references inside the schema"),
        ({"$ref": "file:///etc/passwd"}, "only references inside the schema"),
        (_deep(200), "MAX_SCHEMA_DEPTH"),
        ({"type": "object", "description": "x" * 1_500_000}, "MAX_SCHEMA_BYTES"),
        ({"type": "string", "pattern": "(a)\\1"}, "is not supported"),
    ],
    ids=["ssrf", "file", "deep", "huge", "backreference"],
)
async def test_a_schema_that_could_reach_out_or_hang_is_a_422(
    alpha: httpx.AsyncClient, schema: dict[str, Any], named: str
) -> None:
    began = time.perf_counter()
    response = await alpha.post(
        "/v1/jobs", json={"operation": "llm.extract", "input": {"text": "Invoice 7.", "schema": schema}}
    )
    assert response.status_code == 422, response.text[:500]
    assert named in response.text
    assert time.perf_counter() - began < 5


async def test_a_backtracking_pattern_and_a_hostile_answer_cost_the_worker_nothing(
    alpha: httpx.AsyncClient, chat_server: ScriptedChatServer
) -> None:
    chat_server.reset(lambda r: Reply(json.dumps({"code": "a" * 40 + "!"})))
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}
    response = await alpha.post(
        "/v1/jobs", json={"operation": "llm.extract", "input": {"text": "Code aaaa.", "schema": schema}}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    began = time.perf_counter()
    assert final_status(await follow(alpha, job_id)) == "failed"
    assert time.perf_counter() - began < 30  # Python's re: 2**40 steps, hours
    view = (await alpha.get(f"/v1/jobs/{job_id}")).json()
    assert view["error"]["code"] == "invalid_output"
    assert view["attempts"] == 1  # no frozen worker, no redelivery


async def test_a_path_that_is_no_job_id_is_a_404(alpha: httpx.AsyncClient) -> None:
    job = await submit(alpha, "Grace Hopper was in Arlington.")
    final_status(await follow(alpha, job["id"]))
    for suffix in (":log", ":result", "%3Clog%3E"):
        for path in ("", "/events", "/cancel"):
            method = "POST" if path == "/cancel" else "GET"
            response = await alpha.request(method, f"/v1/jobs/{job['id']}{suffix}{path}")
            assert response.status_code == 404, (suffix, path, response.text)


async def test_platform_numbers_are_for_admin_keys(alpha: httpx.AsyncClient, beta: httpx.AsyncClient) -> None:
    assert (await alpha.get("/v1/queues")).status_code == 200  # alpha is in API_ADMIN_TENANTS
    refused = await beta.get("/v1/queues")
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
