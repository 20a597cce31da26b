"""Status projector: consumes `job-events`, folds them into Redis."""

from propan import PropanApp

from services.projector.projection import Projector
from services.projector.settings import ProjectorSettings
from services.propan_wiring import ConsumerApp, subscribe
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas.topology import DEAD_LETTER_WATCH_QUEUE, PROJECTOR_QUEUE
from shared.telemetry.metrics import serve_metrics

__all__ = ["create_app"]


def create_app(settings: ProjectorSettings) -> PropanApp:
    consumer = ConsumerApp(settings, "projector", "Job status projector")
    projectors: list[Projector] = []
    for queue, name, handle, description in (
        (
            PROJECTOR_QUEUE,
            "project_event",
            lambda: projectors[0].handle,
            "Folds every job event into the Redis read model.",
        ),
        (
            DEAD_LETTER_WATCH_QUEUE,
            "watch_dead_letters",
            lambda: projectors[0].dead_lettered,
            "Fails the job of a command the broker dead-lettered on its own.",
        ),
    ):
        subscribe(consumer.broker, queue, handle, name=name, description=description, retry=False)

    @consumer.app.on_startup
    async def start() -> None:
        redis = settings.redis()
        consumer.resources.push_async_callback(redis.aclose)
        publisher = await Publisher.connect(
            settings.amqp_url, name="projector", publish_timeout=settings.publish_timeout
        )
        consumer.resources.push_async_callback(publisher.close)
        serve_metrics(settings.metrics_host, settings.metrics_port)
        store = JobStore(redis, finished_ttl=settings.finished_job_ttl)
        identities = settings.identities()
        projectors.append(
            Projector(store, publisher, max_delay=settings.redis_retry_max_delay, identities=identities)
        )
        consumer.resources.push_async_callback(projectors[0].close)

    return consumer.app
