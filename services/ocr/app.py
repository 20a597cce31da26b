"""OCR worker: consumes `ocr.jobs`, publishes job events."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from propan import PropanApp
from redis.asyncio import Redis

from services.ocr.engines import OcrEngine, RapidOcrEngine, TesseractEngine
from services.ocr.extraction import TextExtractor
from services.ocr.settings import OcrSettings
from services.propan_wiring import worker_app
from shared.files import FileCatalog
from shared.schemas.topology import OCR_QUEUE
from shared.storage import open_storage
from shared.worker import OperationHandler

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _engine(settings: OcrSettings) -> OcrEngine:
    if settings.engine == "tesseract":
        return TesseractEngine()
    return RapidOcrEngine(threads=settings.engine_threads)


def create_app(settings: OcrSettings) -> PropanApp:
    return worker_app(
        settings, OCR_QUEUE, operations, "ocr", "OCR worker: text of images and PDFs, page by page"
    )


@asynccontextmanager
async def operations(settings: OcrSettings, redis: Redis) -> AsyncIterator[dict[str, OperationHandler]]:
    storage = open_storage(settings.storage)
    extractor = TextExtractor(
        _engine(settings),
        FileCatalog(storage),
        concurrency=settings.concurrency,
        max_pages=settings.max_pages,
        max_image_pixels=settings.max_image_pixels,
        render_dpi=settings.render_dpi,
    )
    log.info(
        "engine %s, %d concurrent pages, storage: %s",
        extractor.engine.name,
        settings.concurrency,
        storage.description,
    )
    try:
        yield {"ocr.image": extractor.run_image, "ocr.pdf": extractor.run_pdf}
    finally:
        extractor.close()
