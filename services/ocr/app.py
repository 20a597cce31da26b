"""OCR worker: consumes `ocr.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.ocr.engines import OcrEngine, RapidOcrEngine, TesseractEngine
from services.ocr.extraction import TextExtractor
from services.ocr.handlers import router
from services.ocr.settings import OcrSettings
from shared.files import FileCatalog
from shared.messaging import Publisher
from shared.schemas.topology import OCR_QUEUE
from shared.storage import open_storage
from shared.worker import JobRunner

settings = OcrSettings()
logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")

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
    context.set_global("extractor", extractor)
    context.set_global("publisher", publisher)
    context.set_global(
        "runner",
        JobRunner(OCR_QUEUE, publisher, {"ocr.image": extractor.run_image, "ocr.pdf": extractor.run_pdf}),
    )


@app.after_shutdown
async def stop() -> None:
    await context.get("publisher").close()
    context.get("extractor").close()
