"""Pipeline driver: consumes `pipeline.jobs` through the job runner and follows the job history."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from propan import PropanApp
from redis.asyncio import Redis

from services.pipeline.driver import PipelineDriver
from services.pipeline.history import HistoryReader
from services.pipeline.settings import PipelineSettings
from services.pipeline.steps import InfrastructureSteps
from services.propan_wiring import worker_app
from shared.control import JobControl
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas.topology import PIPELINE_QUEUE
from shared.worker import OperationHandler

__all__ = ["create_app"]


def create_app(settings: PipelineSettings) -> PropanApp:
    return worker_app(settings, PIPELINE_QUEUE, operations, "pipeline", "Pipeline driver (steps as jobs)")


@asynccontextmanager
async def operations(settings: PipelineSettings, redis: Redis) -> AsyncIterator[dict[str, OperationHandler]]:
    store = JobStore(redis, finished_ttl=settings.finished_job_ttl)
    publisher = await Publisher.connect(
        settings.amqp_url, name="pipeline-steps", publish_timeout=settings.publish_timeout
    )
    steps = InfrastructureSteps(
        publisher,
        store,
        JobControl(redis),
        keep=settings.finished_job_ttl + int(settings.time_limit),
        cancel_ttl=settings.cancel_ttl,
    )
    driver = PipelineDriver(steps, inline_limit=settings.inline_result_bytes)
    history = HistoryReader(
        settings.amqp_url,
        redis,
        store,
        driver.observe,
        settings.identities(),
        reader=settings.history_reader,
        own_user=publisher.user_id,
        prefetch=settings.history_prefetch,
        save_every=settings.history_save_every,
    )
    await history.start()
    try:
        yield {"pipeline": driver.run}
    finally:
        await history.close()
        await publisher.close()
