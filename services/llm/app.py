"""LLM worker: consumes `llm.jobs`, publishes job events."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from propan import PropanApp
from redis.asyncio import Redis

from services.llm.assembly import build_budget, build_limits, build_provider
from services.llm.chunking import TiktokenTokenizer
from services.llm.extraction import Extractor
from services.llm.settings import LlmSettings
from services.llm.summarization import Summarizer
from services.propan_wiring import worker_app
from shared.files import FileCatalog
from shared.readmodel import JobStore
from shared.schemas.topology import LLM_QUEUE
from shared.sources import TextSource
from shared.storage import open_storage
from shared.worker import OperationHandler

__all__ = ["create_app"]

log = logging.getLogger("services.llm")


def create_app(settings: LlmSettings) -> PropanApp:
    return worker_app(settings, LLM_QUEUE, operations, "llm", "LLM orchestration worker (summarize, extract)")


@asynccontextmanager
async def operations(settings: LlmSettings, redis: Redis) -> AsyncIterator[dict[str, OperationHandler]]:
    limits = build_limits(settings)  # refuses sizes that cannot fit the context, before consuming
    tokenizer = TiktokenTokenizer(settings.tokenizer)
    provider = build_provider(settings)
    if provider is None:
        log.warning(
            "LLM_BASE_URL is not set: llm.summarize uses the local extractive summarizer, "
            "llm.extract fails with provider_not_configured"
        )
    else:
        log.info("LLM provider %s, model %s", settings.base_url, settings.model)
    source = TextSource(
        JobStore(redis), FileCatalog(open_storage(settings.storage)), max_pages=settings.max_file_pages
    )
    budget = build_budget(settings, redis)
    try:
        yield {
            "llm.summarize": Summarizer(provider, tokenizer, source, limits, budget).run,
            "llm.extract": Extractor(provider, tokenizer, source, limits, budget).run,
        }
    finally:
        if provider is not None:
            await provider.close()
