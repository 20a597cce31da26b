"""RAG worker: consumes `rag.jobs` (index, ask), answers `rag.search` calls, publishes job events."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from propan import PropanApp, RabbitBroker
from redis.asyncio import Redis

from services.ocr.engines import RapidOcrEngine
from services.propan_wiring import serve_rpc, worker_app
from services.rag.asking import Asker
from services.rag.embedding import embedder_from_settings
from services.rag.generation import StreamingChat
from services.rag.indexing import Indexer
from services.rag.search import Searcher
from services.rag.settings import RagSettings
from services.rag.store import BlobVectorStore
from services.rag.vectors import EmbeddingThread
from shared.collections import CollectionCatalog
from shared.files import FileCatalog
from shared.schemas.topology import RAG_QUEUE, RAG_SEARCH_QUEUE, RAG_SEARCH_TTL_MS
from shared.storage import open_storage
from shared.worker import OperationHandler

__all__ = ["create_app"]

log = logging.getLogger("services.rag")


def create_app(settings: RagSettings) -> PropanApp:
    searchers: list[Searcher] = []

    def extend(broker: RabbitBroker) -> None:
        serve_rpc(
            broker,
            RAG_SEARCH_QUEUE,
            lambda: searchers[0].answer,
            name="answer_rag_search",
            description="Answers the API's synchronous searches (`SearchCall` -> `SearchReply`).",
            ttl_ms=RAG_SEARCH_TTL_MS,
        )

    @asynccontextmanager
    async def operations(settings: RagSettings, redis: Redis) -> AsyncIterator[dict[str, OperationHandler]]:
        storage = open_storage(settings.storage)
        catalog = CollectionCatalog(storage, redis)
        store = BlobVectorStore(
            catalog, budget_bytes=settings.memory_budget_mb << 20, threads=settings.search_threads
        )
        embedding = EmbeddingThread(embedder_from_settings(settings.embeddings))
        warming = asyncio.create_task(_warm(store, embedding.model, settings.warm_collections))
        chat = None
        if settings.llm_base_url:
            chat = StreamingChat(
                settings.llm_base_url,
                settings.llm_api_key.get_secret_value(),
                settings.llm_model,
                max_tokens=settings.llm_max_tokens,
                timeout=settings.llm_timeout,
            )
        indexer = Indexer(
            FileCatalog(storage),
            store,
            embedding,
            RapidOcrEngine(threads=1) if settings.ocr else None,
            max_pages=settings.max_pages,
            max_pixels=settings.max_image_pixels,
            dpi=settings.render_dpi,
            chunk_words=settings.chunk_words,
            overlap=settings.chunk_overlap,
        )
        searchers.append(Searcher(store, embedding))
        log.info(
            "embedding model %s, answers: %s, storage: %s",
            embedding.model,
            (settings.llm_base_url and settings.llm_model) or "extractive (RAG_LLM_BASE_URL unset)",
            storage.description,
        )
        try:
            yield {
                "rag.index": indexer.run,
                "rag.ask": Asker(store, embedding, chat, interval=settings.progress_interval).run,
            }
        finally:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
            indexer.close()
            store.close()
            embedding.close()
            if chat is not None:
                await chat.close()

    return worker_app(
        settings,
        RAG_QUEUE,
        operations,
        "rag",
        "RAG worker: document collections (index PDFs, answer questions citing pages)",
        extend=extend,
    )


async def _warm(store: BlobVectorStore, model: str, limit: int) -> None:
    """In the background: searches meanwhile load what they need themselves."""
    if limit == 0:
        return
    try:
        loaded = await store.warm(model, limit)
    except Exception as exc:  # a cold start, not a broken worker
        log.warning("could not load the recently searched collections: %r", exc)
        return
    log.info("loaded %d recently searched collections (%.0f MB)", loaded, store.loaded_bytes / 2**20)
