"""NER worker: consumes `ner.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.ner.handlers import router
from services.ner.recognition import EntityRecognizer
from services.ner.settings import NerSettings
from shared.bootstrap import start_runner, stop_runner
from shared.schemas.topology import NER_QUEUE
from shared.telemetry.setup import init_telemetry

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
    runner = await start_runner("ner", NER_QUEUE, settings, redis, {"ner.entities": recognizer.run})
    context.set_global("recognizer", recognizer)
    context.set_global("redis", redis)
    context.set_global("runner", runner)


@app.on_shutdown
async def drain() -> None:
    await stop_runner(context.get("runner"), broker.channel, settings.shutdown_grace)


@app.after_shutdown
async def stop() -> None:
    await context.get("runner").publisher.close()
    await context.get("redis").aclose()
    await context.get("recognizer").close()
