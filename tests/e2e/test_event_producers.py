"""Every change to the read model is a fact in the job history on the broker (a command or a
job event), and the projector applies job events only from the platform's own broker users
(shared/identity.py)."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aio_pika
import httpx
import pytest
from redis.asyncio import Redis

from shared.schemas import JobCommand, JobRef, JobTimeline, parse_event
from shared.schemas.topology import EVENTS_EXCHANGE, HISTORY_STREAM
from tests.e2e.conftest import BrokerUser, Stack
from tests.e2e.helpers import delta, recorded_queued_only, scrape, submit, wait_counted

pytestmark = pytest.mark.e2e


@pytest.fixture
async def api_events(stack: Stack) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A queue of our own bound to `job-events` for the events the API publishes."""
    channel = await stack.amqp.channel()
    queue = await channel.declare_queue(f"test-api-events-{uuid.uuid4()}", exclusive=True, auto_delete=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
    for key in ("*.*.queued", "*.*.cancelled"):
        await queue.bind(exchange, routing_key=key)
    yield queue
    await channel.close()


async def event_of(
    queue: aio_pika.abc.AbstractQueue, job_id: str, within: float = 15
) -> aio_pika.abc.AbstractIncomingMessage:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.05)
        elif json.loads(message.body)["job_id"] == job_id:
            return message
    raise AssertionError(f"no event of job {job_id} on {EVENTS_EXCHANGE}")


async def history_record(
    amqp: aio_pika.abc.AbstractRobustConnection, message_id: str, within: float = 15
) -> aio_pika.abc.AbstractIncomingMessage:
    """The job history's record with this message id (read from the first record)."""
    channel = await amqp.channel()
    await channel.set_qos(prefetch_count=500)
    found: asyncio.Future[aio_pika.abc.AbstractIncomingMessage] = asyncio.get_running_loop().create_future()

    async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        if message.message_id == message_id and not found.done():
            found.set_result(message)

    stream = await channel.get_queue(HISTORY_STREAM.name, ensure=False)
    await stream.consume(take, arguments={"x-stream-offset": "first"})
    try:
        return await asyncio.wait_for(found, within)
    finally:
        await channel.close()


async def test_a_submitted_job_is_queued_in_the_history_by_its_command_alone(
    stack: Stack, alpha: httpx.AsyncClient, api_events: aio_pika.abc.AbstractQueue
) -> None:
    job = await submit(alpha, "Ada Lovelace wrote in London.")
    record = await history_record(stack.amqp, job["id"])
    command = JobCommand.model_validate_json(record.body)
    assert (command.tenant, command.attempt, record.routing_key) == ("alpha", 1, "ner.entities")
    assert JobTimeline.new(command).queued().seq == job["seq"]  # what the projector folds it to
    assert record.user_id == stack.amqp_user  # validated by the broker: the API's user
    await asyncio.sleep(1)
    assert await api_events.get(fail=False, no_ack=True) is None, "the API published a queued event"


async def test_cancelling_a_waiting_job_publishes_cancelled(
    stack: Stack, alpha: httpx.AsyncClient, redis: Redis, api_events: aio_pika.abc.AbstractQueue
) -> None:
    queued = await recorded_queued_only(redis)
    response = await alpha.post(f"/v1/jobs/{queued.job_id}/cancel")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "cancelled"
    cancelled = parse_event((await event_of(api_events, queued.job_id)).body)
    assert (cancelled.type, cancelled.seq) == ("cancelled", queued.seq + 1)
    assert cancelled.seq == response.json()["seq"]  # the same change the read model made


async def test_a_forged_succeeded_from_a_tenants_broker_user_is_refused_and_changes_nothing(
    stack: Stack,
    alpha: httpx.AsyncClient,
    redis: Redis,
    amqp: aio_pika.abc.AbstractRobustConnection,
    direct_publishers: dict[str, BrokerUser],
) -> None:
    queued = await recorded_queued_only(redis)
    job = JobRef(queued.job_id, "alpha", queued.operation, created_at=queued.job_created_at)
    forged = JobTimeline(job, since="progress").succeeded({"entities": [{"text": "forged"}]})
    forger = direct_publishers["forger"]  # a tenant user that may write to job-events by mistake
    before = await scrape(stack.metrics["projector"])
    connection = await aio_pika.connect(forger.url)
    async with connection:
        channel = await connection.channel()
        events = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        await events.publish(
            aio_pika.Message(
                forged.model_dump_json().encode(),
                message_id=f"{forged.job_id}:{forged.seq}",
                user_id=forger.name,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=f"{forged.operation}.succeeded",
            mandatory=True,
        )
    after = await wait_counted(
        stack.metrics["projector"], before, 1, "projector_events_total", outcome="forged"
    )
    assert delta(before, after, "projector_events_total", outcome="forged") == 1
    view = (await alpha.get(f"/v1/jobs/{queued.job_id}")).json()
    assert (view["status"], view["result"], view["seq"]) == ("queued", None, queued.seq)
