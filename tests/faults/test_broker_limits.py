"""The broker settings of deploy/rabbitmq/rabbitmq.conf, enforced by a real node (the fault tests'
throwaway node runs with them, as the compose broker does)."""

import aio_pika
import pytest
from aiormq.exceptions import ChannelPreconditionFailed

from tests.support.servers import ThrowawayRabbit

pytestmark = pytest.mark.faults

MAX_MESSAGE_SIZE = 16 * 1024 * 1024


async def test_a_message_over_max_message_size_is_refused(rabbit: ThrowawayRabbit) -> None:
    connection = await aio_pika.connect(rabbit.url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"x" * 1024), routing_key=queue.name)
        with pytest.raises(ChannelPreconditionFailed, match="max size"):
            await channel.default_exchange.publish(
                aio_pika.Message(b"x" * (MAX_MESSAGE_SIZE + 1)), routing_key=queue.name
            )
    finally:
        await connection.close()
