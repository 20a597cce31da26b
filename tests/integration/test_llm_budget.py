"""The tenants' daily LLM token budget against the real Redis and a scripted Chat
Completions server: reserved before each call, settled to the reported usage after."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.llm.budget import TokenBudget
from shared.schemas.llm import ExtractInput, SummarizeInput
from shared.worker import JobFailure
from tests.support.chat_server import Reply, ScriptedChatServer
from tests.support.llm import RecordingContext, extractor, settings, summarizer

pytestmark = pytest.mark.integration


@pytest.fixture
async def chat() -> AsyncIterator[ScriptedChatServer]:
    server = await ScriptedChatServer().start()
    yield server
    await server.stop()


async def test_a_call_is_settled_to_the_reported_usage(
    redis: Redis, chat: ScriptedChatServer, tenant: str
) -> None:
    chat.reset(lambda request: Reply("Rain fell.", usage=(30, 5)))
    budget = TokenBudget(redis, daily_tokens=10_000)
    result = await summarizer(settings(chat.base_url), budget=budget).run(
        SummarizeInput(text="It rained all day in the valley."), RecordingContext(tenant)
    )
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (30, 5)
    assert await budget.used(tenant) == 35
    assert await budget.used(f"{tenant}-other") == 0


async def test_the_job_fails_before_the_call_that_would_pass_the_budget(
    redis: Redis, chat: ScriptedChatServer, tenant: str
) -> None:
    chat.reset(lambda request: Reply("Rain fell.", usage=(850, 50)))
    budget = TokenBudget(redis, daily_tokens=1000)
    config = settings(chat.base_url, max_output_tokens=40)
    job = SummarizeInput(text="It rained all day in the valley.")
    await summarizer(config, budget=budget).run(job, RecordingContext(tenant))
    assert await budget.used(tenant) == 900
    # the next call needs its prompt (some 60 tokens) plus up to 40 for the answer: over 100
    with pytest.raises(JobFailure) as failed:
        await extractor(config, budget=budget).run(
            ExtractInput(text="Rain.", json_schema={"type": "object"}),
            RecordingContext(tenant, "llm.extract"),
        )
    assert failed.value.code == "quota_exceeded"
    assert "1000 tokens per UTC day; 900 are used" in str(failed.value)
    assert len(chat.requests) == 1  # the refused call was never made
    assert await budget.used(tenant) == 900
    await summarizer(config, budget=budget).run(job, RecordingContext(f"{tenant}-other"))  # its own budget
    assert len(chat.requests) == 2


async def test_concurrent_reservations_never_pass_the_budget(redis: Redis, tenant: str) -> None:
    workers = [TokenBudget(redis, daily_tokens=550) for _ in range(3)]

    async def reserve(budget: TokenBudget) -> bool:
        try:
            await budget.reserve(tenant, 100)
        except JobFailure:
            return False
        return True

    taken = await asyncio.gather(*(reserve(w) for w in workers for _ in range(6)))
    assert sum(taken) == 5
    assert await workers[0].used(tenant) == 500


async def test_a_failed_call_gives_its_reservation_back(
    redis: Redis, chat: ScriptedChatServer, tenant: str
) -> None:
    chat.reset(lambda request: Reply.failure(400, "bad request"))
    budget = TokenBudget(redis, daily_tokens=10_000)
    with pytest.raises(JobFailure) as failed:
        await summarizer(settings(chat.base_url), budget=budget).run(
            SummarizeInput(text="It rained."), RecordingContext(tenant)
        )
    assert failed.value.code == "provider_rejected"
    assert len(chat.requests) == 1
    assert await budget.used(tenant) == 0
