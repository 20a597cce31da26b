"""NER worker: consumes `ner.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.ner.handlers import router
from services.ner.recognition import EntityRecognizer
from services.ner.settings import NerSettings
from shared.messaging import Publisher
from shared.schemas.topology import NER_QUEUE
from shared.worker import JobRunner

settings = NerSettings()
logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")

# Per-message "Received"/"Processed" lines are debug detail, not operations logs.
broker = RabbitBroker(settings.amqp_url, consumers=settings.prefetch, log_level=logging.DEBUG)
broker.include_router(router)
app = PropanApp(broker, title="ner", description="Named-entity recognition worker")


@app.on_startup
async def start() -> None:
    recognizer = EntityRecognizer(
        settings.pipeline, max_text_chars=settings.max_text_chars, chunk_chars=settings.chunk_chars
    )
    publisher = await Publisher.connect(
        settings.amqp_url, name="ner", publish_timeout=settings.publish_timeout
    )
    context.set_global("recognizer", recognizer)
    context.set_global("publisher", publisher)
    context.set_global("runner", JobRunner(NER_QUEUE, publisher, {"ner.entities": recognizer.run}))


@app.after_shutdown
async def stop() -> None:
    await context.get("publisher").close()
    context.get("recognizer").close()
