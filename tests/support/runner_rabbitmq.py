"""The runner's ports on the real RabbitMQ (the tests' vhost) and Redis, with the
production adapters; only `fail_next_publishes` wraps them, to make the broker refuse."""

import asyncio
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from redis.asyncio import Redis

from shared.control import JobControl
from shared.messaging import Publisher, stop_consuming
from shared.schemas import JobCommand, JobEvent, parse_event
from shared.schemas.topology import EVENTS_EXCHANGE, JOBS_EXCHANGE, NER_QUEUE
from shared.worker import JobRunner
from shared.worker.adapters import AmqpDelivery, PublisherBus, RedisControl
from shared.worker.ports import CancelControl, CommandBus, EventSink, Unavailable
from tests.support.runner_transport import RunnerTransport, Timing

__all__ = ["RabbitTransport"]


class _RefusingBus(PublisherBus):
    """The real bus, except that the next `refusals` publishes fail."""

    refusals = 0

    def _refuse(self) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise Unavailable("the broker is away (on purpose)")

    async def publish_event(self, event: JobEvent) -> None:
        self._refuse()
        await super().publish_event(event)

    async def publish_delayed(self, command: JobCommand, delay: float, *, watchdog: bool = False) -> None:
        self._refuse()
        await super().publish_delayed(command, delay, watchdog=watchdog)


class RabbitTransport(RunnerTransport):
    # Longer than in memory: delay queues, Redis expiry and a cancel poll really take time.
    timing = Timing(0.5, 0.2, 1.0, 0.5, 1.5, patience=15.0)

    def __init__(self, url: str, redis: Redis) -> None:
        super().__init__()
        self.url = url
        self.redis = redis
        self._events: list[JobEvent] = []
        self._channels: dict[int, AbstractChannel] = {}
        self._handling: dict[int, list[asyncio.Task[None]]] = {}

    async def open(self) -> "RabbitTransport":
        self.publisher = await Publisher.connect(self.url, name="runner-scenarios")
        self.bus = _RefusingBus(self.publisher)
        self.connection: AbstractRobustConnection = await aio_pika.connect_robust(self.url)
        self.channel = await self.connection.channel()
        for name in (NER_QUEUE.name, NER_QUEUE.dead_letter_queue):  # what earlier tests left
            await (await self.channel.declare_queue(name, passive=True)).purge()
        watch = await self.channel.declare_queue(exclusive=True)
        await watch.bind(EVENTS_EXCHANGE, routing_key="#")

        async def collect(message: AbstractIncomingMessage) -> None:
            self._events.append(parse_event(message.body))
            await message.ack()

        await watch.consume(collect)
        return self

    def ports(self) -> tuple[EventSink, CommandBus, CancelControl]:
        return self.bus, self.bus, RedisControl(JobControl(self.redis))

    async def consume(self, runner: JobRunner) -> None:
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=10)
        queue = await channel.declare_queue(NER_QUEUE.name, passive=True)
        handling = self._handling.setdefault(id(runner), [])

        async def deliver(message: AbstractIncomingMessage) -> None:
            task = asyncio.create_task(runner.handle(AmqpDelivery(message, self.publisher, NER_QUEUE)))
            handling.append(task)
            await asyncio.gather(task, return_exceptions=True)

        await queue.consume(deliver)
        self._channels[id(runner)] = channel

    async def publish_raw(self, body: bytes, routing_key: str) -> None:
        exchange = await self.channel.get_exchange(JOBS_EXCHANGE)
        message = aio_pika.Message(
            body,
            user_id="guest",
            message_id=str(uuid.uuid4()),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await exchange.publish(message, routing_key=routing_key)

    def events(self) -> list[JobEvent]:
        return self._events

    async def dead_letter(self) -> tuple[str, bytes]:
        dlq = await self.channel.declare_queue(NER_QUEUE.dead_letter_queue, passive=True)
        for _ in range(int(self.timing.patience / 0.05)):
            message = await dlq.get(no_ack=True, fail=False)
            if message is not None:
                headers: dict[str, Any] = message.headers or {}
                return str(headers.get("x-error-code")), message.body
            await asyncio.sleep(0.05)
        raise AssertionError("nothing was dead-lettered")

    async def request_cancel(self, job_id: str, *, recorded: bool = False) -> None:
        control = JobControl(self.redis)
        await control.request_cancel(job_id, 60)
        if recorded:
            await control.mark_cancel_recorded(job_id)

    async def crash_holding_next(self) -> None:
        channel = await self.connection.channel()
        queue = await channel.declare_queue(NER_QUEUE.name, passive=True)
        for _ in range(int(self.timing.patience / 0.05)):
            if await queue.get(fail=False) is not None:
                break
            await asyncio.sleep(0.05)
        await channel.close()  # "dies" holding the delivery: the broker counts a return

    async def stop_and_drain(self, runner: JobRunner, grace: float) -> None:
        channel = self._channels.pop(id(runner))
        await stop_consuming(channel)  # as the worker apps do on SIGTERM, before draining
        await runner.drain(grace)
        await channel.close()

    async def kill(self, runner: JobRunner) -> None:
        handling = self._handling.pop(id(runner), [])
        for task in handling:
            task.cancel()
        await asyncio.gather(*handling, return_exceptions=True)
        await self._channels.pop(id(runner)).close()  # unacked deliveries go back
        await runner.drain(0)  # only stops its cancel poller: nothing runs any more

    def fail_next_publishes(self, count: int) -> None:
        self.bus.refusals = count

    async def close(self) -> None:
        for runner in self.runners:
            channel = self._channels.pop(id(runner), None)
            if channel is not None:
                await stop_consuming(channel)
            await runner.drain(0)
            if channel is not None:
                await channel.close()
        await self.connection.close()
        await self.publisher.close()
