"""Dead letters under real faults: a flood of malformed messages costs nothing else, a job
the broker dead-letters on its own ends failed."""

import asyncio
import json
import time
import uuid

import aio_pika
import httpx
import pytest

from shared.schemas.topology import JOBS_EXCHANGE, NER_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import submit
from tests.faults.helpers import wait_all_terminal

pytestmark = pytest.mark.faults


async def test_a_thousand_malformed_messages_cost_nothing_else(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    marker = uuid.uuid4().hex[:8]
    bodies = [
        b"\x00\x01 not json",
        b"[]",
        json.dumps({"job_id": "x"}).encode(),
        json.dumps({"operation": "ner.entities", "input": {"text": 1}}).encode(),
    ]
    channel = await fault_stack.amqp.channel()
    jobs_exchange = await channel.get_exchange(JOBS_EXCHANGE, ensure=False)

    async def flood() -> None:
        for i in range(1000):
            await jobs_exchange.publish(
                aio_pika.Message(
                    bodies[i % len(bodies)],
                    message_id=f"{marker}-{i}",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    user_id=fault_stack.amqp_user,  # a platform user: the bodies are what is wrong
                ),
                routing_key="ner.entities",
            )

    async def good_jobs() -> list[str]:
        ids = []
        for i in range(20):
            ids.append((await submit(alpha, f"Grace Hopper visited Toronto on day {i}."))["id"])
            await asyncio.sleep(0.02)
        return ids

    _, good = await asyncio.gather(flood(), good_jobs())
    views = await wait_all_terminal(alpha, good)
    assert {v["status"] for v in views.values()} == {"succeeded"}

    dlq = await channel.declare_queue(NER_QUEUE.dead_letter_queue, passive=True)
    codes: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(codes) < 1000 and time.monotonic() < deadline:
        message = await dlq.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.1)
        elif (message.message_id or "").startswith(marker):
            codes[message.message_id or ""] = str(message.headers.get("x-error-code"))
    assert len(codes) == 1000
    assert set(codes.values()) == {"malformed_json", "invalid_envelope"}
    await channel.close()
    for service in fault_stack.services.values():
        assert service.alive()


async def test_a_job_the_broker_dead_letters_on_its_own_ends_failed(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    # A consumer that rejects without requeueing (a crashed handler in Propan, an operator's
    # tool): the broker dead-letters the command, and nothing of ours published an outcome.
    ner = fault_stack.services["ner"]
    ner.stop()
    try:
        job = await submit(alpha, "Airbus builds aircraft in Toulouse.")
        channel = await fault_stack.amqp.channel()
        queue = await channel.get_queue(NER_QUEUE.name, ensure=False)
        message = None
        for _ in range(100):
            message = await queue.get(fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.05)
        assert message is not None
        assert json.loads(message.body)["job_id"] == job["id"]
        await message.reject(requeue=False)
        await channel.close()
        views = await wait_all_terminal(alpha, [job["id"]], within=30)
    finally:
        ner.start()
    error = views[job["id"]]["error"]
    assert views[job["id"]]["status"] == "failed"
    assert error["code"] == "dead_lettered"
    assert "rejected" in error["message"]
    assert NER_QUEUE.name in error["message"]
    dlq = await (await fault_stack.amqp.channel()).get_queue(NER_QUEUE.dead_letter_queue, ensure=False)
    kept = await dlq.get(fail=False)
    assert kept is not None, "operators keep a copy"
    assert json.loads(kept.body)["job_id"] == job["id"]
    await kept.ack()
    await fault_stack.wait_consuming(NER_QUEUE.name)
