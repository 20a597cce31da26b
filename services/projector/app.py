"""Status projector: consumes `job-events`, folds them into Redis."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.projector.handlers import router
from services.projector.projection import Projector
from services.projector.settings import ProjectorSettings
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.telemetry.metrics import serve_metrics
from shared.telemetry.setup import init_telemetry

settings = ProjectorSettings()
init_telemetry("projector", settings)

# Per-message "Received"/"Processed" lines are debug detail, not operations logs.
broker = RabbitBroker(settings.amqp_url, consumers=settings.prefetch, log_level=logging.DEBUG)
broker.include_router(router)
app = PropanApp(broker, title="projector", description="Job status projector")


@app.on_startup
async def start() -> None:
    redis = settings.redis()
    publisher = await Publisher.connect(
        settings.amqp_url, name="projector", publish_timeout=settings.publish_timeout
    )
    serve_metrics(settings.metrics_host, settings.metrics_port)
    store = JobStore(redis, finished_ttl=settings.finished_job_ttl)
    context.set_global("redis", redis)
    context.set_global("publisher", publisher)
    context.set_global("projector", Projector(store, publisher, max_delay=settings.redis_retry_max_delay))


@app.after_shutdown
async def stop() -> None:
    await context.get("projector").close()
    await context.get("publisher").close()
    await context.get("redis").aclose()
