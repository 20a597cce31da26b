"""Propan wiring shared by every consumer service: the one handler factory, and the
whole app of a worker service that runs jobs with `JobRunner`.

It lives in `services/`, beside the services that use it, and not in `shared/`: shared
code is imported by the API, whose environment has no Propan (Propan pins an old
FastAPI). Only the consumers' `app.py` import this module, so that moving to another
framework (FastStream) touches this file and those only."""

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TypeVar

from aio_pika.abc import AbstractIncomingMessage
from propan import PropanApp, RabbitBroker
from propan.brokers.rabbit import ExchangeType, RabbitExchange, RabbitQueue
from propan.brokers.rabbit.rabbit_broker import RabbitMessage as PropanRabbitMessage
from propan.utils import context
from redis.asyncio import Redis

from shared.bootstrap import RunningWorker, start_runner
from shared.broker_cluster import connection_options
from shared.results import ResultStore
from shared.schemas.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, JOBS_EXCHANGE, QueueSpec
from shared.settings import ConsumerSettings, WorkerSettings
from shared.storage import UsesStorage, open_storage
from shared.worker import OperationHandler

__all__ = ["ConsumerApp", "MessageHandler", "serve_rpc", "subscribe", "worker_app"]

MessageHandler = Callable[[AbstractIncomingMessage], Awaitable[None]]
S = TypeVar("S", bound=WorkerSettings)
Operations = Callable[[S, Redis], AbstractAsyncContextManager[Mapping[str, OperationHandler]]]

# One object per exchange: a string exchange name would re-declare it as direct.
_EXCHANGES = {
    JOBS_EXCHANGE: RabbitExchange(JOBS_EXCHANGE, type=ExchangeType.TOPIC, durable=True),
    EVENTS_EXCHANGE: RabbitExchange(EVENTS_EXCHANGE, type=ExchangeType.TOPIC, durable=True),
    DEAD_LETTER_EXCHANGE: RabbitExchange(DEAD_LETTER_EXCHANGE, type=ExchangeType.DIRECT, durable=True),
}


async def _raw_body(message: PropanRabbitMessage, _original: Any) -> bytes:
    return message.body  # the handler parses and validates, so bad input gets a reason


def consumer_broker(settings: ConsumerSettings, name: str) -> RabbitBroker:
    # AMQP_URL may list a cluster's nodes: Propan hands these options to aio_pika.connect_robust.
    options = connection_options(settings.amqp_url)
    return RabbitBroker(
        options.pop("url"),
        consumers=settings.prefetch,
        # Per-message "Received"/"Processed" lines are debug detail, not operations logs.
        log_level=logging.DEBUG,
        client_properties={"connection_name": f"{name}-consumer"},
        **options,
    )


def subscribe(
    broker: RabbitBroker,
    queue: QueueSpec,
    handle: Callable[[], MessageHandler],
    *,
    name: str,
    description: str,
    retry: bool | int,
) -> None:
    """Consume `queue` with `handle()` (looked up per message: it exists once the app has
    started). `name` is the handler's name, which the AsyncAPI document shows."""

    async def handler(body: bytes) -> None:
        # The message comes from Propan's context, not as a `Context(...)` parameter:
        # fast_depends resolves each of those on a worker thread (bench/README.md).
        await handle()(context.get_local("message"))

    handler.__name__ = handler.__qualname__ = name
    broker.handle(
        RabbitQueue(
            queue.name,
            durable=True,
            arguments=queue.arguments,
            routing_key=queue.binding_keys[0],  # the others: declare_topology
        ),
        _EXCHANGES[queue.exchange],
        retry=retry,
        decode_message=_raw_body,
        description=description,
    )(handler)


def serve_rpc(
    broker: RabbitBroker,
    queue: str,
    answer: Callable[[], Callable[[bytes], Awaitable[bytes]]],
    *,
    name: str,
    description: str,
    ttl_ms: int,
) -> None:
    """Answer requests on `queue` (default exchange): Propan publishes what the handler
    returns to the request's `reply_to` with its `correlation_id` (direct reply-to works).
    Classic and non-durable, with a message TTL: requests are worth nothing after their
    caller's timeout, so none is kept across a broker restart or answered late."""

    async def handler(body: bytes) -> bytes:
        return await answer()(body)

    handler.__name__ = handler.__qualname__ = name
    broker.handle(
        RabbitQueue(queue, durable=False, arguments={"x-message-ttl": ttl_ms}),
        retry=False,
        decode_message=_raw_body,
        description=description,
    )(handler)


class ConsumerApp:
    """A consumer service's Propan app, the resources it opens at startup (closed again
    after shutdown, last opened first), and what it serves once started."""

    def __init__(self, settings: ConsumerSettings, title: str, description: str) -> None:
        self.broker = consumer_broker(settings, title)
        self.app = PropanApp(self.broker, title=title, description=description)
        self.resources = AsyncExitStack()
        self.app.after_shutdown(self.resources.aclose)


def worker_app(
    settings: S,
    queue: QueueSpec,
    operations: Operations[S],
    title: str,
    description: str,
    *,
    extend: Callable[[RabbitBroker], None] | None = None,
) -> PropanApp:
    """A worker service whose handler is `handle_<title>_job`: `operations(settings, redis)`
    opens the domain code (models, engines) and closes it again at shutdown; `extend` adds
    the service's other subscribers (an RPC) to its broker."""
    consumer = ConsumerApp(settings, title, description)
    if extend is not None:
        extend(consumer.broker)
    workers: list[RunningWorker] = []

    # retry=0: Propan acks or rejects only what JobRunner has not settled itself (it settles
    # every delivery; an unexpected error is rejected to the dead-letter queue, never requeued).
    subscribe(
        consumer.broker,
        queue,
        lambda: workers[0].handle,
        name=f"handle_{title}_job",
        description=f"Runs `{title}.*` jobs.",
        retry=0,
    )

    @consumer.app.on_startup
    async def start() -> None:
        redis = settings.redis()
        consumer.resources.push_async_callback(redis.aclose)
        handlers = await consumer.resources.enter_async_context(operations(settings, redis))
        results = None
        if isinstance(settings, UsesStorage):  # else every result travels inline
            results = ResultStore(
                open_storage(settings.storage), inline_max_bytes=settings.result_inline_max_bytes
            )
        workers.append(await start_runner(title, queue, settings, redis, handlers, results))
        consumer.resources.push_async_callback(workers[0].publisher.close)

    @consumer.app.on_shutdown
    async def drain() -> None:
        await workers[0].stop(consumer.broker.channel, settings.shutdown_grace)

    return consumer.app
