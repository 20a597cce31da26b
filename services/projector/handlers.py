"""Propan wiring of the `projector.events` queue."""

from typing import Any

from propan import RabbitRouter
from propan.brokers.rabbit import ExchangeType, RabbitExchange, RabbitQueue
from propan.brokers.rabbit.rabbit_broker import RabbitMessage as PropanRabbitMessage
from propan.utils import context

from services.projector.projection import Projector
from shared.schemas.topology import EVENTS_EXCHANGE, PROJECTOR_QUEUE

__all__ = ["router"]

router = RabbitRouter()

events_exchange = RabbitExchange(EVENTS_EXCHANGE, type=ExchangeType.TOPIC, durable=True)


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
