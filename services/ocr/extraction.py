"""`ocr.image` and `ocr.pdf`: fetch the tenant's file, then text page by page.

Threads, so the event loop (heartbeats, acks, other jobs' events) never waits:
one thread opens documents and renders pages (PDFium and Pillow objects are not
thread-safe), a pool of `concurrency` threads runs the OCR engine, shared by all
jobs of the process. Within a job up to `concurrency` pages are in flight; their
progress events still come in page order, one per page. The job awaits between
pages, so cancelling its task stops it at the next page.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from services.ocr.engines import OcrEngine
from shared.documents import ImageDocument, PageContent, PdfDocument
from shared.files import FileCatalog, read_job_file
from shared.schemas import OcrImageInput, OcrPage, OcrPdfInput, OcrResult
from shared.worker import JobContext

__all__ = ["TextExtractor"]

T = TypeVar("T")
Document = PdfDocument | ImageDocument


class TextExtractor:
    def __init__(
        self,
        engine: OcrEngine,
        files: FileCatalog,
        *,
        concurrency: int,
        max_pages: int,
        max_image_pixels: int,
        render_dpi: int,
    ) -> None:
        self.engine = engine
        self.files = files
        self._concurrency = concurrency
        self._max_pages = max_pages
        self._max_pixels = max_image_pixels
        self._dpi = render_dpi
        self._documents = ThreadPoolExecutor(max_workers=1, thread_name_prefix="documents")
        self._ocr = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ocr")

    async def run_image(self, job: OcrImageInput, ctx: JobContext) -> OcrResult:
        data = await self._fetch(ctx, job.file_id)
        document = await self._on_documents(
            lambda: ImageDocument(data, max_pages=self._max_pages, max_pixels=self._max_pixels)
        )
        return await self._extract(document, ctx)

    async def run_pdf(self, job: OcrPdfInput, ctx: JobContext) -> OcrResult:
        data = await self._fetch(ctx, job.file_id)
        document = await self._on_documents(
            lambda: PdfDocument(data, max_pages=self._max_pages, max_pixels=self._max_pixels, dpi=self._dpi)
        )
        return await self._extract(document, ctx)

    async def _fetch(self, ctx: JobContext, file_id: str) -> bytes:
        """The file's bytes, if it belongs to the job's tenant and suits the operation."""
        _, data = await read_job_file(self.files, ctx.command, file_id)
        return data

    async def _extract(self, document: Document, ctx: JobContext) -> OcrResult:
        total = document.pages
        in_flight: deque[asyncio.Task[OcrPage]] = deque()
        pages: list[OcrPage] = []
        try:
            for index in range(total):
                in_flight.append(asyncio.create_task(self._page(document, index)))
                if len(in_flight) >= self._concurrency:
                    pages.append(await in_flight.popleft())
                    await ctx.progress(len(pages) / total, f"page {len(pages)} of {total}")
            while in_flight:
                pages.append(await in_flight.popleft())
                await ctx.progress(len(pages) / total, f"page {len(pages)} of {total}")
        finally:
            for task in in_flight:
                task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.gather(*in_flight, return_exceptions=True)
            await self._on_documents(document.close)
        return OcrResult(pages=pages, text="\n\f".join(p.text for p in pages), engine=self.engine.name)

    async def _page(self, document: Document, index: int) -> OcrPage:
        content: PageContent = await self._on_documents(lambda: document.page(index))
        if content.text is not None:
            return OcrPage(number=index + 1, text=content.text, method="text-layer", confidence=1.0)
        assert content.image is not None
        image = content.image
        found = await asyncio.get_running_loop().run_in_executor(self._ocr, self.engine.recognize, image)
        return OcrPage(number=index + 1, text=found.text, method="ocr", confidence=found.confidence)

    async def _on_documents(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._documents, call)

    def close(self) -> None:
        self._documents.shutdown(wait=False, cancel_futures=True)
        self._ocr.shutdown(wait=False, cancel_futures=True)
