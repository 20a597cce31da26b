"""Propan wiring of the `llm.jobs` queue: thin, all work is in `JobRunner` and the domain modules."""

from typing import Any

from propan import RabbitRouter
from propan.brokers.rabbit import ExchangeType, RabbitExchange, RabbitQueue
from propan.brokers.rabbit.rabbit_broker import RabbitMessage as PropanRabbitMessage
from propan.utils import context

from shared.schemas.topology import JOBS_EXCHANGE, LLM_QUEUE
from shared.worker import JobRunner

__all__ = ["router"]

router = RabbitRouter()

jobs_exchange = RabbitExchange(JOBS_EXCHANGE, type=ExchangeType.TOPIC, durable=True)


async def _raw_body(message: PropanRabbitMessage, _original: Any) -> bytes:
    return message.body  # JobRunner parses and validates, so bad input gets a reason


@router.handle(
    RabbitQueue(
        LLM_QUEUE.name,
        durable=True,
        arguments=LLM_QUEUE.arguments,
        routing_key=LLM_QUEUE.binding_keys[0],
    ),
    jobs_exchange,
    # retry=0: Propan acks or rejects only what JobRunner has not settled itself (it settles
    # every delivery; an unexpected error is rejected to the dead-letter queue, never requeued).
    retry=0,
    decode_message=_raw_body,
    description="Runs `llm.*` jobs.",
)
async def handle_llm_job(body: bytes) -> None:
    # The message and the runner come from Propan's context here, not as `Context(...)`
    # parameters: fast_depends resolves each of those on a worker thread (bench/README.md).
    runner: JobRunner = context.get("runner")
    await runner.handle(context.get_local("message"))
