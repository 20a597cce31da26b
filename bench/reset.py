"""Starting each measurement of this system from an empty broker vhost and Redis database."""

import asyncio

import aio_pika
from redis.asyncio import Redis

from shared.schemas.topology import DELAY_LEVELS, QUEUES, delay_queue
from tests.support.infra import ensure_vhost

__all__ = ["reset_jobs_state"]


async def _reset(amqp_url: str, redis_url: str) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        for spec in QUEUES:
            await channel.queue_delete(spec.name)
            await channel.queue_delete(spec.dead_letter_queue)
        for level in range(len(DELAY_LEVELS)):
            await channel.queue_delete(delay_queue(level))
    finally:
        await connection.close()
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()  # the bench's own database (JobsStack refuses 0 and 15)
    finally:
        await redis.aclose()


def reset_jobs_state(amqp_url: str, redis_url: str) -> None:
    ensure_vhost(amqp_url)
    asyncio.run(_reset(amqp_url, redis_url))
