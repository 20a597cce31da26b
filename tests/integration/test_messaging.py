"""Topology and confirmed publishing against the real RabbitMQ."""

import uuid
from datetime import UTC, datetime

import aio_pika
import pytest

from shared.messaging import Publisher, PublishFailed
from shared.schemas import JobCommand
from shared.schemas.topology import JOBS_EXCHANGE, NER_QUEUE
from tests.support.infra import Infra

pytestmark = pytest.mark.integration


async def test_declaring_twice_is_idempotent_and_routes_by_operation(
    infra: Infra, amqp: aio_pika.abc.AbstractRobustConnection
) -> None:
    first = await Publisher.connect(infra.amqp_url, name="test-1")
    second = await Publisher.connect(infra.amqp_url, name="test-2")  # same declarations again
    channel = await amqp.channel()
    await channel.declare_queue(NER_QUEUE.name, passive=True)  # declared by connect()
    # a private queue beside ner.jobs sees what the `jobs` exchange routes for the operation
    queue = await channel.declare_queue(f"test-{uuid.uuid4()}", exclusive=True)
    await queue.bind(JOBS_EXCHANGE, routing_key=NER_QUEUE.binding_keys[0])
    job_id = str(uuid.uuid4())
    command = JobCommand(
        job_id=job_id,
        tenant="t",
        operation="ner.entities",
        input={"text": "x"},
        created_at=datetime.now(UTC),
    )
    await second.publish_command(command)
    message = await queue.get(timeout=5, fail=True)
    assert message is not None
    assert message.message_id == job_id
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert JobCommand.model_validate_json(message.body) == command
    await message.ack()
    await first.close()
    await second.close()
    await channel.close()


async def test_an_unroutable_command_is_refused(
    infra: Infra, amqp: aio_pika.abc.AbstractRobustConnection
) -> None:
    publisher = await Publisher.connect(infra.amqp_url, name="test")
    command = JobCommand(
        job_id=str(uuid.uuid4()), tenant="t", operation="nobody.home", input={}, created_at=datetime.now(UTC)
    )
    with pytest.raises(PublishFailed) as failure:
        await publisher.publish_command(command)
    assert failure.value.reason == "unroutable"
    # the channel survives a return: the next publish goes through
    command.operation = "ner.entities"
    await publisher.publish_command(command)
    await publisher.close()
