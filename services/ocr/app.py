"""OCR worker: consumes `ocr.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.ocr.engines import OcrEngine, RapidOcrEngine, TesseractEngine
from services.ocr.extraction import TextExtractor
from services.ocr.handlers import router
from services.ocr.settings import OcrSettings
from shared.bootstrap import start_runner, stop_runner
from shared.files import FileCatalog
from shared.schemas.topology import OCR_QUEUE
from shared.storage import open_storage
from shared.telemetry.setup import init_telemetry
from shared.worker import OperationHandler

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
    redis = settings.redis()
    handlers: dict[str, OperationHandler] = {"ocr.image": extractor.run_image, "ocr.pdf": extractor.run_pdf}
    runner = await start_runner("ocr", OCR_QUEUE, settings, redis, handlers)
    context.set_global("extractor", extractor)
    context.set_global("redis", redis)
    context.set_global("runner", runner)


@app.on_shutdown
async def drain() -> None:
    await stop_runner(context.get("runner"), broker.channel, settings.shutdown_grace)


@app.after_shutdown
async def stop() -> None:
    await context.get("runner").publisher.close()
    await context.get("redis").aclose()
    context.get("extractor").close()
