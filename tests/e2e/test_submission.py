"""Submitting, following, reading and listing jobs end to end: the services as real
processes, driven over HTTP; bad requests get clear errors."""

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import final_status, follow, submit

pytestmark = pytest.mark.e2e


async def test_submit_follow_and_read_the_entities(alpha: httpx.AsyncClient) -> None:
    job = await submit(alpha, "Barack Obama visited Paris.")
    assert job["status"] == "queued"
    live = await follow(alpha, job["id"])
    assert live[0][0] == "snapshot"
    assert final_status(live) == "succeeded"
    events = await follow(alpha, job["id"], last_event_id=0)  # the whole history
    # `started` only for an attempt that ran past NER_STARTED_EVENT_AFTER; else `succeeded`
    # carries its start (the view's started_at and attempts below come from it).
    assert [kind for kind, _, _ in events] in (["queued", "succeeded"], ["queued", "started", "succeeded"])
    ids = [event_id for _, event_id, _ in events]
    assert ids == sorted(ids)
    assert len(set(ids[1:])) == len(ids[1:])
    final = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
    assert final["status"] == "succeeded"
    assert final["attempts"] == 1
    assert final["started_at"]
    assert final["finished_at"]
    entities = {(e["text"], e["label"], e["start"], e["end"]) for e in final["result"]["entities"]}
    assert entities == {("Barack Obama", "PERSON", 0, 12), ("Paris", "GPE", 21, 26)}
    assert final["result"]["model"].startswith("en_core_web_sm")
    assert events[-1][2]["result"] == final["result"]


async def test_listing_filters_and_pages(alpha: httpx.AsyncClient) -> None:
    jobs = [await submit(alpha, f"Alan Turing visited Oslo on day {i}.") for i in range(5)]
    for job in jobs:
        await follow(alpha, job["id"])
    first = (await alpha.get("/v1/jobs", params={"limit": 3, "operation": "ner.entities"})).json()
    second = (await alpha.get("/v1/jobs", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    listed = [j["id"] for j in first["items"] + second["items"]]
    assert listed[:5] == [j["id"] for j in reversed(jobs)]
    done = (await alpha.get("/v1/jobs", params={"status": "succeeded", "limit": 200})).json()
    assert {j["id"] for j in jobs} <= {j["id"] for j in done["items"]}
    running = (await alpha.get("/v1/jobs", params={"status": "running", "limit": 200})).json()
    assert not {j["id"] for j in jobs} & {j["id"] for j in running["items"]}


async def test_bad_requests_get_clear_errors(stack: Stack, alpha: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        assert (await anonymous.get("/v1/jobs")).status_code == 401
        wrong = await anonymous.get("/v1/jobs", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
    unknown = await alpha.post("/v1/jobs", json={"operation": "ocr.magic", "input": {}})
    assert unknown.status_code == 422
    (error,) = unknown.json()["detail"]
    assert error["loc"] == ["body", "operation"]
    assert "ner.entities" in error["msg"]
    invalid = await alpha.post("/v1/jobs", json={"operation": "ner.entities", "input": {"text": 5}})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "input", "text"]
    huge = await alpha.post(
        "/v1/jobs", json={"operation": "ner.entities", "input": {"text": "x" * (3 * 1024 * 1024)}}
    )
    assert huge.status_code == 413
    not_json = await alpha.post("/v1/jobs", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    bad_resume = await alpha.get("/v1/jobs/x/events", headers={"Last-Event-ID": "abc"})
    assert bad_resume.status_code == 422


async def test_health_and_openapi(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "broker": "ok", "redis": "ok"}
        spec = (await anonymous.get("/openapi.json")).json()
        assert "/v1/jobs" in spec["paths"]
        assert (await anonymous.get("/docs")).status_code == 200


async def test_input_over_the_worker_limit_fails_the_job(alpha: httpx.AsyncClient) -> None:
    job = await submit(alpha, "Lima " * 250_000)  # 1.25 M chars, within the body limit
    events = await follow(alpha, job["id"])
    assert final_status(events) == "failed"
    assert events[-1][2]["error"]["code"] == "input_too_large"
