"""A service with only asyncapi.yaml and a plain AMQP client submits a job straight to the
broker; it runs, is tracked and is visible to its tenant only. Deliberately imports nothing
from the project: names, routing and the message come from asyncapi.yaml."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
import yaml

from tests.e2e.helpers import take_dead_letters

pytestmark = pytest.mark.e2e

CONTRACT = yaml.safe_load((Path(__file__).resolve().parents[2] / "asyncapi.yaml").read_text())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = CONTRACT
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def submission(operation: str) -> tuple[str, str, str, dict[str, Any]]:
    """(exchange, routing key, dead-letter queue, example command) for an operation, from the contract."""
    channel = CONTRACT["channels"][f"jobs/{operation}"]
    exchange = channel["bindings"]["amqp"]["exchange"]["name"]
    message = resolve(channel["publish"]["message"])
    queue = next(c for c in CONTRACT["channels"].values() if message in _messages_of(c))
    return (
        exchange,
        channel["x-routing-key"],
        queue["x-dead-letter-queue"],
        dict(message["examples"][0]["payload"]),
    )


def _messages_of(channel: dict[str, Any]) -> list[dict[str, Any]]:
    if "publish" not in channel or "x-dead-letter-queue" not in channel:
        return []
    message = channel["publish"]["message"]
    return [resolve(m) for m in message.get("oneOf", [message])]


async def publish(
    url: str, exchange: str, routing_key: str, body: dict[str, Any], user_id: str | None
) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()  # publisher confirms are on by default
        jobs = await channel.get_exchange(exchange, ensure=False)  # a tenant may not declare
        await jobs.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=body["job_id"],
                user_id=user_id,
            ),
            routing_key=routing_key,
            mandatory=True,
        )


def command(example: dict[str, Any], tenant: str) -> dict[str, Any]:
    return {
        **example,
        "job_id": str(uuid.uuid4()),
        "tenant": tenant,
        "created_at": datetime.now(UTC).isoformat(),
    }


async def replayed_events(client: httpx.AsyncClient, job_id: str) -> list[str]:
    """Every event of the job, from its first (Last-Event-ID: 0), until the terminal one."""
    names: list[str] = []
    headers = {"Last-Event-ID": "0"}
    async with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=60) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                names.append(line.removeprefix("event: "))
    return names


async def wait_for_job(client: httpx.AsyncClient, job_id: str, within: float = 30) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while (response := await client.get(f"/v1/jobs/{job_id}")).status_code == 404:
        assert asyncio.get_running_loop().time() < deadline, f"job {job_id} never appeared"
        await asyncio.sleep(0.1)
    return dict(response.json())


async def test_a_direct_publisher_submits_a_job_its_tenant_can_follow(
    direct_publishers: dict[str, Any], alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    exchange, routing_key, _, example = submission("ner.entities")
    publisher = direct_publishers["alpha"]
    body = command(example, "alpha")
    await publish(publisher.url, exchange, routing_key, body, user_id=publisher.name)

    await wait_for_job(alpha, body["job_id"])
    # its command in the job history is its `queued` (with its created_at), as for the API's jobs;
    # `started` only for an attempt that ran past NER_STARTED_EVENT_AFTER
    assert await replayed_events(alpha, body["job_id"]) in (
        ["queued", "succeeded"],
        ["queued", "started", "succeeded"],
    )
    view = (await alpha.get(f"/v1/jobs/{body['job_id']}")).json()
    assert view["status"] == "succeeded", view
    assert {"text": "Paris", "label": "GPE", "start": 21, "end": 26} in view["result"]["entities"]
    assert (await beta.get(f"/v1/jobs/{body['job_id']}")).status_code == 404


async def test_commands_without_a_known_identity_are_dead_lettered_and_touch_no_job(
    direct_publishers: dict[str, Any],
    amqp: aio_pika.abc.AbstractRobustConnection,
    alpha: httpx.AsyncClient,
    beta: httpx.AsyncClient,
    infra: Any,
) -> None:
    exchange, routing_key, dead_letter_queue, example = submission("ner.entities")
    alpha_user, stranger = direct_publishers["alpha"], direct_publishers["stranger"]
    cases = {
        "missing_user_id": (infra.amqp_url, command(example, "alpha"), None),
        "unknown_publisher": (stranger.url, command(example, "alpha"), stranger.name),
        "tenant_mismatch": (alpha_user.url, command(example, "beta"), alpha_user.name),
    }
    for url, body, user_id in cases.values():
        await publish(url, exchange, routing_key, body, user_id)
    by_id = {body["job_id"]: code for code, (_, body, _) in cases.items()}
    found = await take_dead_letters(amqp, dead_letter_queue, set(by_id))
    for job_id, code in by_id.items():
        assert found[job_id].headers["x-error-code"] == code
        assert found[job_id].headers["x-error-reason"]
    stranger_letter = found[cases["unknown_publisher"][1]["job_id"]]
    assert stranger_letter.headers["x-original-user-id"] == stranger.name
    assert stranger.name in str(stranger_letter.headers["x-error-reason"])
    # a refused sender may not speak for the job it names: nothing recorded for anyone
    job = await wait_for_job(alpha, (await _good_job(direct_publishers, example)), within=60)
    assert job["id"]
    for code, (_, body, _) in cases.items():
        client = beta if body["tenant"] == "beta" else alpha
        assert (await client.get(f"/v1/jobs/{body['job_id']}")).status_code == 404, code


async def _good_job(direct_publishers: dict[str, Any], example: dict[str, Any]) -> str:
    """A job published after the refused ones: once it is visible, the refused ones were handled."""
    exchange, routing_key, _, _ = submission("ner.entities")
    body = command(example, "alpha")
    publisher = direct_publishers["alpha"]
    await publish(publisher.url, exchange, routing_key, body, user_id=publisher.name)
    return str(body["job_id"])


async def test_a_command_whose_job_id_is_not_a_plain_token_is_dead_lettered(
    direct_publishers: dict[str, Any], amqp: aio_pika.abc.AbstractRobustConnection, alpha: httpx.AsyncClient
) -> None:
    exchange, routing_key, dead_letter_queue, example = submission("ner.entities")
    publisher = direct_publishers["alpha"]
    ids = ['<img src=x onerror="alert(1)">', f"{uuid.uuid4()}:log", "a/b", "x" * 65]
    for job_id in ids:
        body = {**command(example, "alpha"), "job_id": job_id}
        await publish(publisher.url, exchange, routing_key, body, user_id=publisher.name)
    found = await take_dead_letters(amqp, dead_letter_queue, set(ids))
    for job_id in ids:
        assert found[job_id].headers["x-error-code"] == "invalid_envelope"
        assert "job_id" in str(found[job_id].headers["x-error-reason"])
    await wait_for_job(alpha, await _good_job(direct_publishers, example), within=60)
    listed = (await alpha.get("/v1/jobs", params={"limit": 200})).json()["items"]
    assert not {job["id"] for job in listed} & set(ids)


async def test_an_extraction_schema_pointing_outside_itself_is_refused_and_never_fetched(
    direct_publishers: dict[str, Any], amqp: aio_pika.abc.AbstractRobustConnection
) -> None:
    hits: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.read(100))
        writer.close()

    bait = await asyncio.start_server(record, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{bait.sockets[0].getsockname()[1]}/schema.json"
    exchange, routing_key, dead_letter_queue, example = submission("llm.extract")
    publisher = direct_publishers["alpha"]
    body = command(example, "alpha")
    body["input"] = {"text": "Invoice 7, total 12 EUR.", "schema": {"$ref": url}}
    try:
        await publish(publisher.url, exchange, routing_key, body, user_id=publisher.name)
        found = await take_dead_letters(amqp, dead_letter_queue, {body["job_id"]})
    finally:
        bait.close()
    letter = found[body["job_id"]]
    assert letter.headers["x-error-code"] == "invalid_input"
    assert "only references inside the schema" in str(letter.headers["x-error-reason"])
    assert hits == []
