import json
from typing import Any

import httpx

from shared.schemas.lifecycle import TERMINAL_STATES


async def submit(client: httpx.AsyncClient, text: str, **headers: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/jobs", json={"operation": "ner.entities", "input": {"text": text}}, headers=headers
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    return dict(response.json())


async def follow(
    client: httpx.AsyncClient, job_id: str, last_event_id: int | None = None
) -> list[tuple[str, int, dict[str, Any]]]:
    """Read the SSE stream to its end; return (event, id, data) for each event."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    events: list[tuple[str, int, dict[str, Any]]] = []
    async with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "event" in fields:
                    events.append((fields["event"], int(fields["id"]), json.loads(fields["data"])))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    return events


def final_status(events: list[tuple[str, int, dict[str, Any]]]) -> str:
    """How a stream ended: its terminal event, or a snapshot of a job that had already ended."""
    kind, _, data = events[-1]
    status = str(data["status"]) if kind == "snapshot" else kind
    assert status in TERMINAL_STATES, f"stream ended without a terminal state: {events[-3:]}"
    return status
