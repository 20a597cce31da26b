"""Propan wiring of the `projector.events` queue."""

from typing import Any

from propan import RabbitRouter
from propan.brokers.rabbit import ExchangeType, RabbitExchange, RabbitQueue
from propan.brokers.rabbit.rabbit_broker import RabbitMessage as PropanRabbitMessage
from propan.utils import context

from services.projector.projection import Projector
from shared.schemas.topology import (
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_WATCH_QUEUE,
    EVENTS_EXCHANGE,
    PROJECTOR_QUEUE,
)

__all__ = ["router"]

router = RabbitRouter()

events_exchange = RabbitExchange(EVENTS_EXCHANGE, type=ExchangeType.TOPIC, durable=True)
dead_letter_exchange = RabbitExchange(DEAD_LETTER_EXCHANGE, type=ExchangeType.DIRECT, durable=True)


async def _raw_body(message: PropanRabbitMessage, _original: Any) -> bytes:
    return message.body


@router.handle(
    RabbitQueue(
        PROJECTOR_QUEUE.name,
        durable=True,
        arguments=PROJECTOR_QUEUE.arguments,
        routing_key=PROJECTOR_QUEUE.binding_keys[0],
    ),
    events_exchange,
    retry=False,
    decode_message=_raw_body,
    description="Folds every job event into the Redis read model.",
)
async def project_event(body: bytes) -> None:
    # The message and the projector come from Propan's context here, not as `Context(...)`
    # parameters: fast_depends resolves each of those on a worker thread, two thread hops
    # per message that the profile showed (bench/README.md).
    projector: Projector = context.get("projector")
    await projector.handle(context.get_local("message"))


@router.handle(
    RabbitQueue(
        DEAD_LETTER_WATCH_QUEUE.name,
        durable=True,
        arguments=DEAD_LETTER_WATCH_QUEUE.arguments,
        routing_key=DEAD_LETTER_WATCH_QUEUE.binding_keys[0],  # the others: declare_topology
    ),
    dead_letter_exchange,
    retry=False,
    decode_message=_raw_body,
    description="Fails the job of a command the broker dead-lettered on its own.",
)
async def watch_dead_letters(body: bytes) -> None:
    projector: Projector = context.get("projector")
    await projector.dead_lettered(context.get_local("message"))
