"""LLM worker: consumes `llm.jobs`, publishes job events."""

import logging

from propan import PropanApp, RabbitBroker
from propan.utils import context

from services.llm.assembly import build_limits, build_provider
from services.llm.chunking import TiktokenTokenizer
from services.llm.extraction import Extractor
from services.llm.handlers import router
from services.llm.settings import LlmSettings
from services.llm.sources import TextSource
from services.llm.summarization import Summarizer
from shared.control import JobControl
from shared.messaging import Publisher, stop_consuming
from shared.readmodel import JobStore
from shared.schemas.topology import LLM_QUEUE
from shared.telemetry.metrics import register_in_flight, serve_metrics
from shared.telemetry.setup import init_telemetry
from shared.worker import JobRunner, OperationConfig

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
    source = TextSource(JobStore(redis))
    publisher = await Publisher.connect(
        settings.amqp_url, name="llm", publish_timeout=settings.publish_timeout
    )
    limit, attempts = settings.time_limit, settings.max_attempts
    operations = {
        "llm.summarize": OperationConfig(
            Summarizer(provider, tokenizer, source, limits).run, time_limit=limit, max_attempts=attempts
        ),
        "llm.extract": OperationConfig(
            Extractor(provider, tokenizer, source, limits).run, time_limit=limit, max_attempts=attempts
        ),
    }
    runner = JobRunner(LLM_QUEUE, publisher, JobControl(redis), operations, settings.runner_config())
    runner.start()
    register_in_flight(LLM_QUEUE.name, lambda: runner.running)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    context.set_global("provider", provider)
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
    if (provider := context.get("provider")) is not None:
        await provider.close()
