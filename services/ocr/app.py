"""OCR worker: consumes `ocr.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.ocr.engines import OcrEngine, RapidOcrEngine, TesseractEngine
from services.ocr.extraction import TextExtractor
from services.ocr.handlers import router
from services.ocr.settings import OcrSettings
from shared.control import JobControl
from shared.files import FileCatalog
from shared.messaging import Publisher, stop_consuming
from shared.schemas.topology import OCR_QUEUE
from shared.storage import open_storage
from shared.telemetry.metrics import register_in_flight, serve_metrics
from shared.telemetry.setup import init_telemetry
from shared.worker import JobRunner, OperationConfig

settings = OcrSettings()
init_telemetry("ocr", settings)

broker = RabbitBroker(settings.amqp_url, consumers=settings.prefetch, log_level=logging.DEBUG)
broker.include_router(router)
app = PropanApp(broker, title="ocr", description="OCR worker: text of images and PDFs, page by page")


def _engine() -> OcrEngine:
    if settings.engine == "tesseract":
        return TesseractEngine()
    return RapidOcrEngine(threads=settings.engine_threads)


@app.on_startup
async def start() -> None:
    storage = open_storage()
    extractor = TextExtractor(
        _engine(),
        FileCatalog(storage),
        concurrency=settings.concurrency,
        max_pages=settings.max_pages,
        max_image_pixels=settings.max_image_pixels,
        render_dpi=settings.render_dpi,
    )
    logging.getLogger(__name__).info(
        "engine %s, %d concurrent pages, storage: %s",
        extractor.engine.name,
        settings.concurrency,
        storage.description,
    )
    publisher = await Publisher.connect(
        settings.amqp_url, name="ocr", publish_timeout=settings.publish_timeout
    )
    redis = settings.redis()
    limit, attempts = settings.time_limit, settings.max_attempts
    operations = {
        "ocr.image": OperationConfig(extractor.run_image, time_limit=limit, max_attempts=attempts),
        "ocr.pdf": OperationConfig(extractor.run_pdf, time_limit=limit, max_attempts=attempts),
    }
    runner = JobRunner(OCR_QUEUE, publisher, JobControl(redis), operations, settings.runner_config())
    runner.start()
    register_in_flight(OCR_QUEUE.name, lambda: runner.running)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    context.set_global("extractor", extractor)
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
    context.get("extractor").close()
