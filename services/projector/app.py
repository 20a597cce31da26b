"""Status projector: folds the job history stream into Redis; fails dead-lettered jobs."""

import asyncio
import contextlib

from propan import PropanApp

from services.projector.history import HistoryReader
from services.projector.history_store import HistoryStore
from services.projector.legacy import drop_legacy_queue
from services.projector.projection import Projector
from services.projector.settings import ProjectorSettings
from services.propan_wiring import ConsumerApp, subscribe
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas.topology import DEAD_LETTER_WATCH_QUEUE
from shared.telemetry.metrics import serve_metrics

__all__ = ["create_app"]


def create_app(settings: ProjectorSettings) -> PropanApp:
    consumer = ConsumerApp(settings, "projector", "Job status projector")
    projectors: list[Projector] = []
    subscribe(
        consumer.broker,
        DEAD_LETTER_WATCH_QUEUE,
        lambda: projectors[0].dead_lettered,
        name="watch_dead_letters",
        description="Fails the job of a command the broker dead-lettered on its own.",
        retry=False,
    )

    @consumer.app.on_startup
    async def start() -> None:
        redis = settings.redis()
        consumer.resources.push_async_callback(redis.aclose)
        publisher = await Publisher.connect(
            settings.amqp_url, name="projector", publish_timeout=settings.publish_timeout
        )
        consumer.resources.push_async_callback(publisher.close)
        await drop_legacy_queue(publisher)
        serve_metrics(settings.metrics_host, settings.metrics_port)
        store = JobStore(redis, finished_ttl=settings.finished_job_ttl)
        history = HistoryStore(store, settings.finished_job_ttl)
        projector = Projector(
            history, publisher, max_delay=settings.redis_retry_max_delay, identities=settings.identities()
        )
        projectors.append(projector)
        reader = HistoryReader(
            settings.amqp_url,
            projector,
            history,
            prefetch=settings.prefetch,
            check_interval=settings.history_check_interval,
            max_delay=settings.redis_retry_max_delay,
        )
        task = asyncio.create_task(reader.run(), name="history reader")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        consumer.resources.push_async_callback(stop)

    return consumer.app
