"""Idempotency keys: the same key returns the same job, identical submissions that race create one."""

import asyncio
import time

import httpx
import pytest

from tests.e2e.helpers import final_status, follow, submit

pytestmark = pytest.mark.e2e


async def test_idempotency_key_returns_the_same_job(alpha: httpx.AsyncClient) -> None:
    first = await submit(alpha, "Angela Merkel visited Toyota in Tokyo.", **{"Idempotency-Key": "order-42"})
    again = await submit(alpha, "Angela Merkel visited Toyota in Tokyo.", **{"Idempotency-Key": "order-42"})
    assert again["id"] == first["id"]
    clash = await alpha.post(
        "/v1/jobs",
        json={"operation": "ner.entities", "input": {"text": "something else"}},
        headers={"Idempotency-Key": "order-42"},
    )
    assert clash.status_code == 422
    (error,) = clash.json()["detail"]
    assert error["loc"] == ["header", "idempotency-key"]
    assert "Idempotency-Key was already used" in error["msg"]


async def test_concurrent_identical_submissions_create_one_job(alpha: httpx.AsyncClient) -> None:
    body = {"operation": "ner.entities", "input": {"text": "Ada Lovelace lived in London."}}
    headers = {"Idempotency-Key": f"race-{time.time_ns()}"}
    responses = await asyncio.gather(
        *(alpha.post("/v1/jobs", json=body, headers=headers) for _ in range(100))
    )
    assert {r.status_code for r in responses} == {202}, {r.text for r in responses if r.status_code != 202}
    assert len({r.json()["id"] for r in responses}) == 1
    job_id = responses[0].json()["id"]
    listed = (await alpha.get("/v1/jobs", params={"limit": 200})).json()["items"]
    same_text = [j for j in listed if j["id"] == job_id]
    assert len(same_text) == 1
    assert final_status(await follow(alpha, job_id)) == "succeeded"
