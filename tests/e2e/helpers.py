import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from shared.readmodel import JobStore
from shared.schemas import JobRef, JobTimeline, Queued
from shared.schemas.lifecycle import TERMINAL_STATES

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as client:
        response = await client.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def wait_counted(
    url: str, before: Samples, least: float, name: str, within: float = 15, **labels: str
) -> Samples:
    """The samples once counter `name` has grown by at least `least` since `before`."""
    deadline = asyncio.get_running_loop().time() + within
    while delta(before, after := await scrape(url), name, **labels) < least:
        assert asyncio.get_running_loop().time() < deadline, f"{name} {labels} did not grow by {least}"
        await asyncio.sleep(0.2)
    return after


async def take(
    amqp: aio_pika.abc.AbstractRobustConnection, queue: str, message_id: str, within: float = 30
) -> aio_pika.abc.AbstractIncomingMessage:
    """The message with this id from `queue` (acked); others are left in it."""
    channel = await amqp.channel()
    source = await channel.declare_queue(queue, passive=True)
    deadline = asyncio.get_running_loop().time() + within
    try:
        while asyncio.get_running_loop().time() < deadline:
            message = await source.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            if message.message_id == message_id:
                await message.ack()
                return message
            await message.nack(requeue=True)
        raise AssertionError(f"message {message_id} never reached {queue}")
    finally:
        await channel.close()


async def recorded_queued_only(redis: Redis, tenant: str = "alpha") -> Queued:
    """A job recorded as queued and never published: no worker takes it, it stays queued."""
    job = JobRef(str(uuid.uuid4()), tenant, "ner.entities", created_at=datetime.now(UTC))
    queued = JobTimeline.new(job).queued()
    await JobStore(redis).apply(queued)
    return queued


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


async def take_dead_letters(
    amqp: aio_pika.abc.AbstractRobustConnection, queue: str, wanted: set[str], within: float = 30
) -> dict[str, aio_pika.abc.AbstractIncomingMessage]:
    """Take messages off a dead-letter queue until every wanted message id is found."""
    channel = await amqp.channel()
    dlq = await channel.declare_queue(queue, passive=True)
    found: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}
    deadline = asyncio.get_running_loop().time() + within
    while wanted - found.keys():
        assert asyncio.get_running_loop().time() < deadline, f"not dead-lettered: {wanted - found.keys()}"
        message = await dlq.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.1)
        elif message.message_id in wanted:
            found[str(message.message_id)] = message
    await channel.close()
    return found
