import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from redis.asyncio import Redis

from shared.schemas.topology import DELAY_LEVELS, HISTORY_STREAM, QUEUES, delay_queue
from tests.support.infra import Infra, provide_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provide_infra() as found:
        yield found


@pytest.fixture(scope="session")
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(infra.redis_url, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"Redis at {infra.redis_url} is not reachable: {exc}")
    await client.flushdb()  # the test database only (see tests/support/infra.py)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def amqp(infra: Infra) -> AsyncIterator[aio_pika.abc.AbstractRobustConnection]:
    try:
        connection = await aio_pika.connect_robust(infra.amqp_url)
    except Exception as exc:
        pytest.fail(f"RabbitMQ at {infra.amqp_url} is not reachable: {exc}")
    channel = await connection.channel()
    for spec in QUEUES:  # start from a clean topology in the test vhost
        await channel.queue_delete(spec.name)
        await channel.queue_delete(spec.dead_letter_queue)
    for level in range(len(DELAY_LEVELS)):
        await channel.queue_delete(delay_queue(level))
    await channel.queue_delete(HISTORY_STREAM.name)  # no history of earlier runs to replay
    await channel.queue_delete("projector.events")  # before the history stream (services/projector/legacy.py)
    await channel.close()
    yield connection
    await connection.close()


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"
