"""`rag.index`: the tenant's PDF, page by page (its text layer, else OCR), into chunks that
keep their page, embedded and stored in the collection, replacing what the file had there.

PDFium is not thread-safe: documents are opened and pages rendered on one thread; OCR runs
on the OCR worker's engine (services/ocr/engines.py) on a thread of its own; embedding on
the embedding thread. One progress event per page, after the page is embedded. The job
awaits between pages, so a cancel stops it at the next page and stores nothing.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from services.ocr.engines import OcrEngine
from services.rag.chunking import Chunk, chunk_page
from services.rag.store import Segment, VectorStore
from services.rag.vectors import EmbeddingThread
from shared.documents import PdfDocument
from shared.files import FileCatalog, read_job_file
from shared.schemas.rag import IndexInput, IndexResult
from shared.worker import JobContext

__all__ = ["Indexer"]

T = TypeVar("T")

STORING_SHARE = 0.05
"""Part of the progress bar left for writing the segment and the catalog."""


class Indexer:
    def __init__(
        self,
        files: FileCatalog,
        store: VectorStore,
        embedding: EmbeddingThread,
        ocr: OcrEngine | None,
        *,
        max_pages: int,
        max_pixels: int,
        dpi: int,
        chunk_words: int,
        overlap: int,
    ) -> None:
        self.files = files
        self.store = store
        self.embedding = embedding
        self.ocr = ocr
        self._max_pages, self._max_pixels, self._dpi = max_pages, max_pixels, dpi
        self._words, self._overlap = chunk_words, overlap
        self._documents = ThreadPoolExecutor(max_workers=1, thread_name_prefix="documents")
        self._ocr = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")

    async def run(self, job: IndexInput, ctx: JobContext) -> IndexResult:
        _, data = await read_job_file(self.files, ctx.command, job.file_id)
        document = await self._on_documents(
            lambda: PdfDocument(data, max_pages=self._max_pages, max_pixels=self._max_pixels, dpi=self._dpi)
        )
        chunks: list[Chunk] = []
        vectors = []
        ocr_pages = 0
        try:
            total = document.pages
            for index in range(total):
                text, scanned = await self._text(document, index)
                ocr_pages += scanned
                page_chunks = chunk_page(index + 1, text, max_words=self._words, overlap=self._overlap)
                vectors.append(await self.embedding.embed([c.text for c in page_chunks]))
                chunks.extend(page_chunks)
                await ctx.progress(
                    (index + 1) / total * (1 - STORING_SHARE),
                    f"page {index + 1} of {total}: {len(page_chunks)} chunks",
                )
        finally:
            await self._on_documents(document.close)
        note = ""
        if not chunks:
            note = "no text found on any page" + ("" if self.ocr else " (OCR is off: RAG_OCR=false)")
        dim = self.embedding.embedder.dim
        segment = Segment.of(chunks, np.vstack(vectors) if chunks else np.zeros((0, dim), np.float32))
        replaced = await self.store.put_file(
            ctx.command.tenant, job.collection, job.file_id, total, segment, self.embedding.model
        )
        return IndexResult(
            file_id=job.file_id,
            collection=job.collection,
            pages=total,
            chunks=len(chunks),
            ocr_pages=ocr_pages,
            embedding_model=self.embedding.model,
            replaced_chunks=replaced,
            note=note,
        )

    async def _text(self, document: PdfDocument, index: int) -> tuple[str, bool]:
        """The page's text and whether it came from OCR."""
        if self.ocr is None:
            return (await self._on_documents(lambda: document.text_layer(index))) or "", False
        content = await self._on_documents(lambda: document.page(index))
        if content.text is not None:
            return content.text, False
        assert content.image is not None
        found = await asyncio.get_running_loop().run_in_executor(self._ocr, self.ocr.recognize, content.image)
        return found.text, True

    async def _on_documents(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._documents, call)

    def close(self) -> None:
        self._documents.shutdown(wait=False, cancel_futures=True)
        self._ocr.shutdown(wait=False, cancel_futures=True)
