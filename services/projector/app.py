"""Status projector: consumes `job-events`, folds them into Redis."""

from contextlib import AsyncExitStack

from propan import PropanApp

from services.projector.projection import Projector
from services.projector.settings import ProjectorSettings
from services.propan_wiring import consumer_broker, subscribe
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas.topology import DEAD_LETTER_WATCH_QUEUE, PROJECTOR_QUEUE
from shared.telemetry.metrics import serve_metrics

__all__ = ["create_app"]


def create_app(settings: ProjectorSettings) -> PropanApp:
    broker = consumer_broker(settings)
    app = PropanApp(broker, title="projector", description="Job status projector")
    resources = AsyncExitStack()
    started: list[Projector] = []

    def projector() -> Projector:
        return started[0]

    subscribe(
        broker,
        PROJECTOR_QUEUE,
        lambda: projector().handle,
        name="project_event",
        description="Folds every job event into the Redis read model.",
        retry=False,
    )
    subscribe(
        broker,
        DEAD_LETTER_WATCH_QUEUE,
        lambda: projector().dead_lettered,
        name="watch_dead_letters",
        description="Fails the job of a command the broker dead-lettered on its own.",
        retry=False,
    )

    @app.on_startup
    async def start() -> None:
        redis = settings.redis()
        resources.push_async_callback(redis.aclose)
        publisher = await Publisher.connect(
            settings.amqp_url, name="projector", publish_timeout=settings.publish_timeout
        )
        resources.push_async_callback(publisher.close)
        serve_metrics(settings.metrics_host, settings.metrics_port)
        store = JobStore(redis, finished_ttl=settings.finished_job_ttl)
        started.append(
            Projector(
                store, publisher, max_delay=settings.redis_retry_max_delay, identities=settings.identities()
            )
        )
        resources.push_async_callback(projector().close)

    @app.after_shutdown
    async def stop() -> None:
        await resources.aclose()

    return app
