"""LLM worker: consumes `llm.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.llm.assembly import build_budget, build_limits, build_provider
from services.llm.chunking import TiktokenTokenizer
from services.llm.extraction import Extractor
from services.llm.handlers import router
from services.llm.settings import LlmSettings
from services.llm.sources import TextSource
from services.llm.summarization import Summarizer
from shared.bootstrap import start_runner, stop_runner
from shared.files import FileCatalog
from shared.readmodel import JobStore
from shared.schemas.topology import LLM_QUEUE
from shared.storage import open_storage
from shared.telemetry.setup import init_telemetry
from shared.worker import OperationHandler

settings = LlmSettings()
init_telemetry("llm", settings)
log = logging.getLogger("services.llm")

# Per-message "Received"/"Processed" lines are debug detail, not operations logs.
broker = RabbitBroker(settings.amqp_url, consumers=settings.prefetch, log_level=logging.DEBUG)
broker.include_router(router)
app = PropanApp(broker, title="llm", description="LLM orchestration worker (summarize, extract)")


@app.on_startup
async def start() -> None:
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
    redis = settings.redis()
    source = TextSource(JobStore(redis), FileCatalog(open_storage()), max_pages=settings.max_file_pages)
    budget = build_budget(settings, redis)
    handlers: dict[str, OperationHandler] = {
        "llm.summarize": Summarizer(provider, tokenizer, source, limits, budget).run,
        "llm.extract": Extractor(provider, tokenizer, source, limits, budget).run,
    }
    runner = await start_runner("llm", LLM_QUEUE, settings, redis, handlers)
    context.set_global("provider", provider)
    context.set_global("redis", redis)
    context.set_global("runner", runner)


@app.on_shutdown
async def drain() -> None:
    await stop_runner(context.get("runner"), broker.channel, settings.shutdown_grace)


@app.after_shutdown
async def stop() -> None:
    await context.get("runner").publisher.close()
    await context.get("redis").aclose()
    if (provider := context.get("provider")) is not None:
        await provider.close()
