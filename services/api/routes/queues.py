import asyncio

from aio_pika.exceptions import AMQPError
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.api.deps import AdminDep
from services.api.errors import unavailable
from services.api.responses import error_responses
from shared.schemas.topology import QUEUES

router = APIRouter(prefix="/v1/queues", tags=["queues"], responses=error_responses(401, 503))


class QueueView(BaseModel):
    name: str
    messages: int = Field(description="Messages ready in the queue (not yet delivered).")
    consumers: int


@router.get(
    "",
    summary="Depth and consumers of every job queue and dead-letter queue (admin keys only)",
    responses=error_responses(403),
)
async def list_queues(request: Request, _: AdminDep) -> list[QueueView]:
    """Platform-wide numbers (no tenant's data, but about everyone's load): what the broker
    reports right now."""
    connection = request.app.state.publisher.connection
    names = [name for spec in QUEUES for name in (spec.name, spec.dead_letter_queue)]
    try:
        channel = await asyncio.wait_for(connection.channel(), 5)
    except (TimeoutError, AMQPError, ConnectionError, RuntimeError) as exc:
        raise unavailable("the broker", exc) from exc
    views = []
    try:
        for name in names:
            try:
                declared = await channel.declare_queue(name, passive=True)
            except AMQPError:  # not declared yet: a passive declare also closes the channel
                views.append(QueueView(name=name, messages=0, consumers=0))
                channel = await connection.channel()
                continue
            result = declared.declaration_result
            views.append(
                QueueView(name=name, messages=result.message_count or 0, consumers=result.consumer_count or 0)
            )
    finally:
        await channel.close()
    return views
