"""NER worker: consumes `ner.jobs`, publishes job events."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from propan import PropanApp
from redis.asyncio import Redis

from services.ner.recognition import EntityRecognizer
from services.ner.settings import NerSettings
from services.propan_wiring import worker_app
from shared.readmodel import JobStore
from shared.schemas.topology import NER_QUEUE
from shared.worker import OperationHandler

__all__ = ["create_app"]


def create_app(settings: NerSettings) -> PropanApp:
    return worker_app(settings, NER_QUEUE, operations, "ner", "Named-entity recognition worker")


@asynccontextmanager
async def operations(settings: NerSettings, redis: Redis) -> AsyncIterator[dict[str, OperationHandler]]:
    recognizer = EntityRecognizer(
        settings.pipeline,
        max_text_chars=settings.max_text_chars,
        chunk_chars=settings.chunk_chars,
        batch_size=settings.batch_size,
        batch_wait=settings.batch_wait,
        jobs=JobStore(redis),
    )
    try:
        yield {"ner.entities": recognizer.run}
    finally:
        await recognizer.close()
