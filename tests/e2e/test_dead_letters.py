"""Bad input on the broker costs nothing but itself: dead-lettered with a reason,
the job it names failed, the consumer still up and still processing."""

import json
import uuid
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest

from shared.schemas.topology import EVENTS_EXCHANGE, JOBS_EXCHANGE, NER_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import delta, final_status, follow, scrape, submit, take_dead_letters, wait_counted

pytestmark = pytest.mark.e2e


async def publish_raw(stack: Stack, exchange: str, routing_key: str, body: bytes, message_id: str) -> None:
    """Publish as the platform's own broker user (guest on a development broker), which may
    name any tenant; identity refusals are tested in test_direct_publishers.py."""
    channel = await stack.amqp.channel()
    target = await channel.get_exchange(exchange, ensure=False)
    await target.publish(
        aio_pika.Message(
            body,
            message_id=message_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            user_id=stack.amqp_user,
        ),
        routing_key=routing_key,
    )
    await channel.close()


def command(job_id: str, **overrides: object) -> bytes:
    body = {
        "schema_version": "1",
        "job_id": job_id,
        "tenant": "alpha",
        "operation": "ner.entities",
        "input": {"text": "Paris"},
        "attempt": 1,
        "created_at": datetime.now(UTC).isoformat(),
        **overrides,
    }
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


async def test_malformed_job_messages_are_dead_lettered_with_a_reason(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    bad_input, no_date, unknown_op = (str(uuid.uuid4()) for _ in range(3))
    cases = {
        f"garbage-{uuid.uuid4()}": (b"\xff\xfe this is not json", "malformed_json"),
        f"array-{uuid.uuid4()}": (b"[1, 2, 3]", "invalid_envelope"),
        bad_input: (command(bad_input, input={"text": 5}), "invalid_input"),
        no_date: (command(no_date, created_at=None), "invalid_envelope"),
        unknown_op: (command(unknown_op, operation="ner.sentiment"), "unknown_operation"),
    }
    for message_id, (body, _) in cases.items():
        await publish_raw(
            stack,
            JOBS_EXCHANGE,
            "ner.entities" if message_id != unknown_op else "ner.sentiment",
            body,
            message_id,
        )
    # a good job right behind them still runs
    good = await submit(alpha, "Barack Obama visited Paris.")
    assert final_status(await follow(alpha, good["id"])) == "succeeded"

    found = await take_dead_letters(stack.amqp, NER_QUEUE.dead_letter_queue, set(cases))
    for message_id, (body, code) in cases.items():
        message = found[message_id]
        assert message.body == body
        assert message.headers["x-error-code"] == code
        assert message.headers["x-error-reason"]
        assert message.headers["x-original-exchange"] == JOBS_EXCHANGE
    assert "input.text" in str(found[bad_input].headers["x-error-reason"])

    # the jobs those messages named are failed, with the reason, for their tenant
    for job_id, code in (
        (bad_input, "invalid_input"),
        (no_date, "invalid_envelope"),
        (unknown_op, "unknown_operation"),
    ):
        view = (await alpha.get(f"/v1/jobs/{job_id}")).json()
        assert view["status"] == "failed", view
        assert view["error"]["code"] == code
    assert stack.services["ner"].alive()


async def test_malformed_events_are_skipped_counted_and_the_projector_carries_on(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    """The job history is a stream, which cannot dead-letter: an invalid record is skipped,
    counted and logged, every time the history is read."""
    before = await scrape(stack.metrics["projector"])
    ids = {
        f"event-a-{uuid.uuid4()}": b"{not json",
        f"event-b-{uuid.uuid4()}": json.dumps({"type": "started"}).encode(),
    }
    for message_id, body in ids.items():
        await publish_raw(stack, EVENTS_EXCHANGE, "ner.entities.started", body, message_id)
    after = await wait_counted(
        stack.metrics["projector"], before, 2, "projector_events_total", outcome="invalid"
    )
    assert delta(before, after, "projector_events_total", outcome="invalid") == 2
    job = await submit(alpha, "Toyota opened an office in Nairobi.")
    assert final_status(await follow(alpha, job["id"])) == "succeeded"
    assert stack.services["projector"].alive()
