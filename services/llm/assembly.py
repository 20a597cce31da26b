"""Settings to objects: the provider stack and the limits, outside the Propan wiring so
that tests build exactly what the worker builds."""

import random

from openai import AsyncOpenAI, Timeout
from redis.asyncio import Redis

from services.llm.budget import TokenBudget
from services.llm.limits import Limits
from services.llm.provider import OpenAIChatProvider
from services.llm.resilience import ResilientProvider, RetryPolicy
from services.llm.settings import LlmSettings

__all__ = ["build_budget", "build_limits", "build_provider"]


def build_provider(settings: LlmSettings, rng: random.Random | None = None) -> ResilientProvider | None:
    """The configured endpoint with retries, timeouts and bounded concurrency; None without one."""
    if not settings.base_url:
        return None
    client = AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key.get_secret_value(),
        max_retries=0,  # retried in ResilientProvider, which honours Retry-After and our limits
        timeout=Timeout(settings.call_timeout, connect=settings.connect_timeout, read=settings.read_timeout),
    )
    adapter = OpenAIChatProvider(
        client,
        settings.model,
        stream=settings.stream,
        json_mode=settings.json_mode,
        temperature=settings.temperature,
    )
    policy = RetryPolicy(
        max_attempts=settings.call_attempts,
        backoff_base=settings.backoff_base,
        backoff_max=settings.backoff_max,
        call_timeout=settings.call_timeout,
    )
    return ResilientProvider(adapter, policy, concurrency=settings.concurrency, rng=rng)


def build_limits(settings: LlmSettings) -> Limits:
    return Limits(
        context_tokens=settings.context_tokens,
        chunk_tokens=settings.chunk_tokens,
        max_output_tokens=settings.max_output_tokens,
        max_input_tokens=settings.max_input_tokens,
        max_repairs=settings.max_repairs,
    )


def build_budget(settings: LlmSettings, redis: Redis) -> TokenBudget | None:
    if settings.tenant_daily_tokens <= 0:
        return None
    return TokenBudget(redis, daily_tokens=settings.tenant_daily_tokens)
