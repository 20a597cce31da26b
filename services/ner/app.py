"""NER worker: consumes `ner.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.ner.handlers import router
from services.ner.recognition import EntityRecognizer
from services.ner.settings import NerSettings
from shared.control import JobControl
from shared.messaging import Publisher, stop_consuming
from shared.schemas.topology import NER_QUEUE
from shared.telemetry.metrics import register_in_flight, serve_metrics
from shared.telemetry.setup import init_telemetry
from shared.worker import JobRunner, OperationConfig

settings = NerSettings()
init_telemetry("ner", settings)

# Per-message "Received"/"Processed" lines are debug detail, not operations logs.
broker = RabbitBroker(settings.amqp_url, consumers=settings.prefetch, log_level=logging.DEBUG)
broker.include_router(router)
app = PropanApp(broker, title="ner", description="Named-entity recognition worker")


@app.on_startup
async def start() -> None:
    recognizer = EntityRecognizer(
        settings.pipeline,
        max_text_chars=settings.max_text_chars,
        chunk_chars=settings.chunk_chars,
        batch_size=settings.batch_size,
        batch_wait=settings.batch_wait,
    )
    redis = settings.redis()
    publisher = await Publisher.connect(
        settings.amqp_url, name="ner", publish_timeout=settings.publish_timeout
    )
    operations = {
        "ner.entities": OperationConfig(
            recognizer.run, time_limit=settings.time_limit, max_attempts=settings.max_attempts
        )
    }
    runner = JobRunner(NER_QUEUE, publisher, JobControl(redis), operations, settings.runner_config())
    runner.start()
    register_in_flight(NER_QUEUE.name, lambda: runner.running)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    context.set_global("recognizer", recognizer)
    context.set_global("redis", redis)
    context.set_global("publisher", publisher)
    context.set_global("runner", runner)


@app.on_shutdown
async def drain() -> None:
    await stop_consuming(broker.channel)
    await context.get("runner").drain(settings.shutdown_grace)


@app.after_shutdown
async def stop() -> None:
    await context.get("publisher").close()
    await context.get("redis").aclose()
    await context.get("recognizer").close()
