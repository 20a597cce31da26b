"""`AMQP_URL` with several nodes against the real broker: the first node that answers wins,
and a lost connection comes back (on the next node that answers)."""

import asyncio
from typing import cast

import aio_pika
import pytest
from yarl import URL

from shared.broker_cluster import connect_cluster
from shared.messaging import Publisher
from tests.support.infra import Infra
from tools.devstack import free_port

pytestmark = pytest.mark.integration


def _with_dead_node_first(amqp_url: str) -> str:
    dead = URL(amqp_url).with_port(free_port())  # nothing listens there
    return f"{dead},{amqp_url}"


async def test_the_first_node_that_answers_is_used(infra: Infra) -> None:
    connection = await connect_cluster(_with_dead_node_first(infra.amqp_url))
    try:
        assert cast(aio_pika.RobustConnection, connection).url.port == URL(infra.amqp_url).port
        channel = await connection.channel()
        await channel.declare_queue(exclusive=True)
    finally:
        await connection.close()


async def test_a_publisher_reconnects_and_publishes_after_its_connection_is_lost(infra: Infra) -> None:
    publisher = await Publisher.connect(_with_dead_node_first(infra.amqp_url), name="test-cluster")
    try:
        transport = publisher.connection.transport
        assert transport is not None
        await transport.connection.close(ConnectionResetError("cut"))  # as a dying node does
        async with asyncio.timeout(10):
            while not publisher.is_connected or publisher.connection.transport is transport:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        channel = await publisher.connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind("job-events", routing_key="test.cluster.#")
        exchange = await channel.get_exchange("job-events")
        await exchange.publish(aio_pika.Message(b"{}"), routing_key="test.cluster.ping")
        assert (await queue.get(timeout=5)).body == b"{}"
    finally:
        await publisher.close()
