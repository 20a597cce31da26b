"""Propan wiring of the `ocr.jobs` queue: thin, all work is in `JobRunner` and the extractor."""

from typing import Annotated, Any

from propan import RabbitRouter
from propan.annotations import RabbitMessage
from propan.brokers.rabbit import ExchangeType, RabbitExchange, RabbitQueue
from propan.brokers.rabbit.rabbit_broker import RabbitMessage as PropanRabbitMessage
from propan.utils import Context

from shared.schemas.topology import JOBS_EXCHANGE, OCR_QUEUE
from shared.worker import JobRunner

__all__ = ["router"]

router = RabbitRouter()

jobs_exchange = RabbitExchange(JOBS_EXCHANGE, type=ExchangeType.TOPIC, durable=True)


async def _raw_body(message: PropanRabbitMessage, _original: Any) -> bytes:
    return message.body  # JobRunner parses and validates, so bad input gets a reason


@router.handle(
    RabbitQueue(
        OCR_QUEUE.name,
        durable=True,
        arguments=OCR_QUEUE.arguments,
        routing_key=OCR_QUEUE.binding_keys[0],
    ),
    jobs_exchange,
    # retry=0: Propan acks or rejects only what JobRunner has not settled itself (it settles
    # every delivery; an unexpected error is rejected to the dead-letter queue, never requeued).
    retry=0,
    decode_message=_raw_body,
    description="Runs `ocr.*` jobs.",
)
async def handle_ocr_job(
    body: bytes, message: RabbitMessage, runner: Annotated[JobRunner, Context("runner")]
) -> None:
    await runner.handle(message)
