"""llm.summarize against a local server speaking the Chat Completions protocol."""

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from services.llm.extractive import EXTRACTIVE_MODEL
from shared.schemas.llm import SummarizeInput
from shared.worker import JobFailure, TransientError
from tests.support.chat_server import ChatRequest, Reply, ScriptedChatServer
from tests.support.llm import TOKENIZER, RecordingContext, settings, summarizer
from tools.devstack import free_port

pytestmark = pytest.mark.integration

PART = re.compile(r"This is part (\d+) of (\d+)")
LONG_TEXT = "".join(
    f"Paragraph {p} sentence {s} reports that station {p} measured {s * 3} millimetres of rain. "
    + ("\n\n" if s == 9 else "")
    for p in range(12)
    for s in range(10)
)


@pytest.fixture
async def chat() -> AsyncIterator[ScriptedChatServer]:
    server = await ScriptedChatServer().start()
    yield server
    await server.stop()


def summarizing_script(request: ChatRequest) -> Reply:
    """Answers from what was asked: each part's summary names the part, a combine lists them."""
    if match := PART.search(request.prompt):
        # long enough that the part summaries need more than one combining round
        detail = "Station records show steady rain and rising rivers. " * 4
        return Reply(f"Part {match[1]} is about rain. {detail}", usage=(100, 5), chunk_delay=0.02)
    parts = re.findall(r"Part (\d+) is about rain", request.prompt)
    groups = re.findall(r"Parts ([\d,]+) are about rain", request.prompt)
    covered = sorted({int(p) for p in parts} | {int(p) for g in groups for p in g.split(",")})
    return Reply(f"Parts {','.join(map(str, covered))} are about rain.", usage=(50, 8))


@pytest.mark.parametrize("stream", [True, False])
async def test_a_long_text_is_mapped_in_bounded_parallel_and_reduced(
    chat: ScriptedChatServer, stream: bool
) -> None:
    chat.reset(summarizing_script)
    config = settings(
        chat.base_url,
        stream=stream,
        context_tokens=1024,
        chunk_tokens=150,
        max_output_tokens=40,
        concurrency=3,
    )
    ctx = RecordingContext()
    result = await summarizer(config).run(SummarizeInput(text=LONG_TEXT), ctx)

    maps = [r for r in chat.requests if PART.search(r.prompt)]
    combines = [r for r in chat.requests if not PART.search(r.prompt)]
    assert result.chunks == len(maps) > 5
    assert all(r.streamed == stream for r in chat.requests)
    # every piece of the text went to exactly one map call, none over the chunk size
    sent = [r.prompt.split("<part>\n", 1)[1].rsplit("\n</part>", 1)[0] for r in maps]
    assert "".join(sorted(sent, key=LONG_TEXT.index)) == LONG_TEXT
    assert all(len(TOKENIZER.encode(s)) <= 150 for s in sent)
    # combined in rounds down to one summary that covers every part
    assert len(combines) >= 2
    assert result.summary == f"Parts {','.join(str(i) for i in range(1, result.chunks + 1))} are about rain."
    assert result.method == "map-reduce"
    assert result.model == "scripted-model"
    assert 2 <= chat.max_in_flight <= 3
    # one progress event per finished call, fractions only grow
    assert len(ctx.progress_events) == len(chat.requests)
    fractions = [f for f, _ in ctx.progress_events]
    assert fractions == sorted(fractions)
    assert fractions[0] > 0
    assert fractions[-1] <= 0.99
    assert sum(m.endswith("done") and m.startswith("chunk") for _, m in ctx.progress_events) == result.chunks
    # usage is the sum of what the server reported
    assert result.usage.prompt_tokens == 100 * len(maps) + 50 * len(combines)
    assert result.usage.completion_tokens == 5 * len(maps) + 8 * len(combines)
    assert not result.usage.estimated


async def test_a_short_text_takes_one_call(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply("Rain everywhere.", usage=(30, 3)))
    ctx = RecordingContext()
    result = await summarizer(settings(chat.base_url)).run(
        SummarizeInput(text="It rained in Paris. It rained in Rome.", instructions="Be brief."), ctx
    )
    assert (result.summary, result.chunks, result.usage.prompt_tokens) == ("Rain everywhere.", 1, 30)
    [request] = chat.requests
    assert "Summarize the following document" in request.prompt
    assert "Be brief." in request.prompt
    assert request.body["model"] == "test-model"
    assert len(ctx.progress_events) == 1


async def test_usage_is_counted_locally_when_the_server_reports_none(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply("Rain everywhere today.", send_usage=False))
    result = await summarizer(settings(chat.base_url)).run(
        SummarizeInput(text="It rained in Paris. It rained in Rome."), RecordingContext()
    )
    assert result.usage.estimated
    assert result.usage.completion_tokens == len(TOKENIZER.encode("Rain everywhere today."))
    assert result.usage.prompt_tokens > len(TOKENIZER.encode("It rained in Paris. It rained in Rome."))


async def test_429_is_retried_after_the_time_the_server_asks(chat: ScriptedChatServer) -> None:
    replies = iter([Reply.failure(429, "slow down", **{"Retry-After": "1"}), Reply("Done.")])
    chat.reset(lambda r: next(replies))
    result = await summarizer(settings(chat.base_url)).run(
        SummarizeInput(text="Short text."), RecordingContext()
    )
    assert result.summary == "Done."
    first, second = chat.requests
    assert 1.0 <= second.at - first.at < 3.0  # Retry-After 1 s, plus at most 0.1 s jitter and load


async def test_a_longer_retry_after_than_allowed_fails_at_once(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply.failure(429, "quota", **{"Retry-After": "120"}))
    with pytest.raises(TransientError) as failure:
        await summarizer(settings(chat.base_url)).run(SummarizeInput(text="Short text."), RecordingContext())
    assert failure.value.code == "provider_rate_limited"
    assert "asked to wait 120 s" in failure.value.message
    assert len(chat.requests) == 1


async def test_a_provider_that_stays_down_fails_the_job_after_the_attempts(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply.failure(503, "overloaded"))
    with pytest.raises(TransientError) as failure:
        await summarizer(settings(chat.base_url, call_attempts=3)).run(
            SummarizeInput(text="Short text."), RecordingContext()
        )
    assert failure.value.code == "provider_unavailable"
    assert "HTTP 503" in failure.value.message
    assert "after 3 attempts" in failure.value.message
    assert len(chat.requests) == 3


async def test_job_errors_quote_neither_the_provider_nor_its_endpoint(
    chat: ScriptedChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    chat.reset(lambda r: Reply.failure(400, "model gpt-x not on cluster inference-7.internal"))
    with pytest.raises(JobFailure) as rejected:
        await summarizer(settings(chat.base_url)).run(SummarizeInput(text="Short text."), RecordingContext())
    assert rejected.value.code == "provider_rejected"
    assert "internal" not in rejected.value.message
    assert "inference-7.internal" in caplog.text  # the operator still sees it
    port = free_port()  # nothing listens there
    with pytest.raises(TransientError) as unreachable:
        await summarizer(settings(f"http://127.0.0.1:{port}/v1", call_attempts=1)).run(
            SummarizeInput(text="Short text."), RecordingContext()
        )
    assert unreachable.value.code == "provider_unavailable"
    assert str(port) not in unreachable.value.message
    assert "127.0.0.1" not in unreachable.value.message


async def test_a_stream_cut_half_way_is_retried(chat: ScriptedChatServer) -> None:
    replies = iter([Reply("one two three four five", cut_after=2), Reply("Whole answer.")])
    chat.reset(lambda r: next(replies))
    result = await summarizer(settings(chat.base_url)).run(
        SummarizeInput(text="Short text."), RecordingContext()
    )
    assert result.summary == "Whole answer."
    assert len(chat.requests) == 2


async def test_a_rejected_request_is_not_retried(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply.failure(401, "bad key"))
    with pytest.raises(JobFailure) as failure:
        await summarizer(settings(chat.base_url)).run(SummarizeInput(text="Short text."), RecordingContext())
    assert not isinstance(failure.value, TransientError)
    assert failure.value.code == "provider_auth_failed"
    assert len(chat.requests) == 1


async def test_a_silent_provider_times_out_and_the_connection_is_closed(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply("too late", delay=30))
    started = asyncio.get_running_loop().time()
    with pytest.raises(TransientError) as failure:
        await summarizer(settings(chat.base_url, call_timeout=0.5, call_attempts=2)).run(
            SummarizeInput(text="Short text."), RecordingContext()
        )
    assert failure.value.code == "provider_timeout"
    assert asyncio.get_running_loop().time() - started < 3
    await asyncio.sleep(0.2)
    assert len(chat.disconnects) == len(chat.requests) == 2


async def test_cancelling_the_job_mid_stream_closes_the_connection(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply("a slow answer " * 50, chunk_delay=0.1))
    job = asyncio.create_task(
        summarizer(settings(chat.base_url)).run(SummarizeInput(text="Short text."), RecordingContext())
    )
    await asyncio.sleep(0.6)  # the answer is streaming
    assert len(chat.requests) == 1
    assert not chat.disconnects
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    for _ in range(20):
        if chat.disconnects:
            break
        await asyncio.sleep(0.05)
    assert chat.disconnects == chat.requests
    assert not chat.completed


async def test_without_an_endpoint_the_local_extractive_summary_is_used() -> None:
    text = (
        "The committee approved the new budget for public libraries. "
        "Coffee was served. "
        "The budget for public libraries grows by ten percent next year. "
        "Libraries will use the budget to extend opening hours."
    )
    ctx = RecordingContext()
    result = await summarizer(settings(None)).run(SummarizeInput(text=text), ctx)
    assert result.model == EXTRACTIVE_MODEL
    assert result.method == "extractive"
    assert result.usage.prompt_tokens == result.usage.completion_tokens == 0
    sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", text)]
    assert result.summary in sentences  # copied from the text, not written
    assert "budget" in result.summary
    assert len(ctx.progress_events) == 1
