"""The job path end to end: the services as real processes, driven over HTTP."""

import json

import httpx
import pytest
import websockets

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import final_status, follow, submit

pytestmark = pytest.mark.e2e


async def test_submit_follow_and_read_the_entities(alpha: httpx.AsyncClient) -> None:
    job = await submit(alpha, "Barack Obama visited Paris.")
    assert job["status"] == "queued"
    live = await follow(alpha, job["id"])
    assert live[0][0] == "snapshot"
    assert final_status(live) == "succeeded"
    events = await follow(alpha, job["id"], last_event_id=0)  # the whole history
    assert [kind for kind, _, _ in events] == ["queued", "started", "succeeded"]
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


async def test_a_long_text_reports_progress_and_resumes_without_loss_or_repeats(
    alpha: httpx.AsyncClient,
) -> None:
    text = "Ada Lovelace met Charles Babbage in London. " * 400  # ~17,600 chars, 9 chunks of 2,000
    job = await submit(alpha, text)
    full = await follow(alpha, job["id"])
    progress = [data for kind, _, data in full if kind == "progress"]
    assert len(progress) == 9
    fractions = [p["fraction"] for p in progress]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert progress[0]["message"] == "chunk 1 of 9"
    # resume from the middle: exactly the rest, nothing twice
    after = full[3][1]
    rest = await follow(alpha, job["id"], last_event_id=after)
    assert [(k, i) for k, i, _ in rest] == [(k, i) for k, i, _ in full if i > after and k != "snapshot"]
    # resume after the end: nothing, the stream just closes
    assert await follow(alpha, job["id"], last_event_id=full[-1][1]) == []
    final = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
    assert len(final["result"]["entities"]) == 400 * 3


async def test_websocket_carries_the_same_events(stack: Stack, alpha: httpx.AsyncClient) -> None:
    job = await submit(alpha, "Grace Hopper joined the US Navy in New York.")
    url = stack.base_url.replace("http://", "ws://") + f"/v1/jobs/{job['id']}/ws"
    received = []
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {KEYS['alpha']}"}) as ws:
        async for raw in ws:
            message = json.loads(raw)
            received.append(message)
    events = [(m["event"], m["id"], m["data"]) for m in received if m["event"] != "keep-alive"]
    assert events[0][0] == "snapshot"
    assert final_status(events) == "succeeded"
    assert received[-1]["data"]["result"]["entities"]


async def test_tenants_cannot_see_each_other(
    stack: Stack, alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    job = await submit(alpha, "Marie Curie lived in Paris.")
    for path in (f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/events"):
        foreign = await beta.get(path)
        unknown = await beta.get(path.replace(job["id"], "00000000-0000-0000-0000-000000000000"))
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json() == unknown.json()
    listed = (await beta.get("/v1/jobs", params={"limit": 200})).json()
    assert job["id"] not in {j["id"] for j in listed["items"]}
    url = stack.base_url.replace("http://", "ws://") + f"/v1/jobs/{job['id']}/ws?access_token={KEYS['beta']}"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404


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
