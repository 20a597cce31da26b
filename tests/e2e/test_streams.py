"""Following a job: SSE progress and resume without loss or repeats, the WebSocket carrying
the same events."""

import json

import httpx
import pytest
import websockets

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import final_status, follow, submit

pytestmark = pytest.mark.e2e


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
