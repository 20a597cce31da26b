"""llm.extract against the scripted server, and text taken from finished jobs in the real Redis."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from shared.readmodel import JobStore
from shared.schemas import SEQ_PER_ATTEMPT, Started, Succeeded
from shared.schemas.llm import ExtractInput, SummarizeInput
from shared.worker import JobFailure
from tests.support.chat_server import ChatRequest, Reply, ScriptedChatServer
from tests.support.llm import RecordingContext, extractor, settings, summarizer

pytestmark = pytest.mark.integration

INVOICE = {
    "type": "object",
    "properties": {
        "number": {"type": "string"},
        "total": {"type": "number"},
        "lines": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["number", "total"],
    "additionalProperties": False,
}
TEXT = "Invoice 2024-118 from ACME GmbH. Total due: 1250.00 EUR. Lines: bolts, nuts."


@pytest.fixture
async def chat() -> AsyncIterator[ScriptedChatServer]:
    server = await ScriptedChatServer().start()
    yield server
    await server.stop()


async def test_invalid_answers_are_sent_back_with_their_errors_until_valid(chat: ScriptedChatServer) -> None:
    answers = iter(
        [
            Reply("Here is your invoice: number 2024-118", usage=(200, 9)),
            Reply('```json\n{"number": "2024-118", "lines": ["bolts", 7]}\n```', usage=(260, 15)),
            Reply('{"number": "2024-118", "total": 1250.0, "lines": ["bolts", "nuts"]}', usage=(300, 20)),
        ]
    )
    chat.reset(lambda r: next(answers))
    ctx = RecordingContext(operation="llm.extract")
    result = await extractor(settings(chat.base_url)).run(
        ExtractInput.model_validate({"text": TEXT, "schema": INVOICE, "instructions": "Amounts in EUR."}), ctx
    )
    assert result.data == {"number": "2024-118", "total": 1250.0, "lines": ["bolts", "nuts"]}
    assert result.repairs == 2
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (760, 44)
    first, second, third = chat.requests
    assert json.dumps(INVOICE) in first.prompt
    assert TEXT in first.prompt
    assert "Amounts in EUR." in first.prompt
    assert first.body["response_format"] == {"type": "json_object"}
    assert "not JSON" in second.prompt
    assert second.body["messages"][2] == {
        "role": "assistant",
        "content": "Here is your invoice: number 2024-118",
    }
    assert "$: 'total' is a required property" in third.prompt
    assert "$.lines[1]: 7 is not of type 'string'" in third.prompt
    assert "not JSON" not in third.prompt  # only the last answer and its errors are sent back
    assert len(ctx.progress_events) == 1


async def test_an_answer_still_invalid_after_the_repairs_fails_the_job(chat: ScriptedChatServer) -> None:
    chat.reset(lambda r: Reply('{"number": 118}'))
    with pytest.raises(JobFailure) as failure:
        await extractor(settings(chat.base_url, max_repairs=1)).run(
            ExtractInput.model_validate({"text": TEXT, "schema": INVOICE}), RecordingContext()
        )
    assert failure.value.code == "invalid_output"
    assert "after 1 repairs" in failure.value.message
    assert "$.number: 118 is not of type 'string'" in failure.value.message
    assert len(chat.requests) == 2


async def test_a_long_text_is_extracted_per_part_and_merged(chat: ScriptedChatServer) -> None:
    schema = {
        "type": "object",
        "properties": {"cities": {"type": "array", "items": {"type": "string"}}},
        "required": ["cities"],
    }
    cities = [f"City{i}" for i in range(40)]
    text = " ".join(f"The delegation travelled on to {c} in the morning." for c in cities)

    def script(request: ChatRequest) -> Reply:
        if "<text>" in request.prompt:  # one part: the cities it mentions
            part = request.prompt.split("<text>", 1)[1]
            return Reply(json.dumps({"cities": [c for c in cities if f"{c} " in part]}))
        found = [c for c in cities if f'"{c}"' in request.prompt]
        return Reply(json.dumps({"cities": found}))

    chat.reset(script)
    ctx = RecordingContext(operation="llm.extract")
    result = await extractor(
        settings(chat.base_url, context_tokens=2048, chunk_tokens=120, max_output_tokens=300)
    ).run(ExtractInput.model_validate({"text": text, "schema": schema}), ctx)
    assert result.chunks > 3
    assert result.data == {"cities": cities}
    merges = [r for r in chat.requests if "<text>" not in r.prompt]
    assert len(chat.requests) == result.chunks + len(merges)
    # merged in rounds; only the last merge has to satisfy the schema
    assert len(merges) >= 2
    assert "Merge them into one JSON value that validates" in merges[-1].prompt
    assert all("Merge them into one JSON value:" in m.prompt for m in merges[:-1])
    assert len(ctx.progress_events) == len(chat.requests)


async def test_a_backtracking_pattern_meets_a_hostile_answer_without_hanging(
    chat: ScriptedChatServer,
) -> None:
    # `^(a+)+$` on 30 a's and a '!' takes Python's re minutes; RE2 answers at once
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}
    chat.reset(lambda r: Reply(json.dumps({"code": "a" * 30 + "!"})))
    with pytest.raises(JobFailure) as failure:
        await asyncio.wait_for(
            extractor(settings(chat.base_url, max_repairs=1)).run(
                ExtractInput.model_validate({"text": TEXT, "schema": schema}), RecordingContext()
            ),
            timeout=10,
        )
    assert failure.value.code == "invalid_output"
    assert "does not match '^(a+)+$'" in failure.value.message


async def test_a_schema_pointing_outside_itself_is_never_fetched(chat: ScriptedChatServer) -> None:
    """Even a schema that skipped the submission check (built without validation here)."""
    hits: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hits.append(await reader.read(100))  # a fetch would stop here; this one never answers
        await asyncio.sleep(3600)

    bait = await asyncio.start_server(record, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{bait.sockets[0].getsockname()[1]}/schema.json"
    chat.reset(lambda r: Reply('{"number": "1"}'))
    job = ExtractInput.model_construct(text=TEXT, json_schema={"$ref": url})
    try:
        with pytest.raises(JobFailure) as failure:
            await asyncio.wait_for(
                extractor(settings(chat.base_url)).run(job, RecordingContext()), timeout=10
            )
    finally:
        bait.close()
    assert failure.value.code == "invalid_schema"
    assert hits == []


async def test_without_an_endpoint_extraction_fails_at_once() -> None:
    with pytest.raises(JobFailure) as failure:
        await extractor(settings(None)).run(
            ExtractInput.model_validate({"text": TEXT, "schema": INVOICE}), RecordingContext()
        )
    assert failure.value.code == "provider_not_configured"
    assert "LLM_BASE_URL" in failure.value.message


async def _finished_job(store: JobStore, tenant: str, result: dict[str, object], ok: bool = True) -> str:
    job_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    base = {"job_id": job_id, "tenant": tenant, "operation": "ocr.text", "at": now, "job_created_at": now}
    await store.apply(Started(**base, seq=SEQ_PER_ATTEMPT + 1))
    if ok:
        await store.apply(Succeeded(**base, seq=SEQ_PER_ATTEMPT + 2, result=result))
    return job_id


async def test_the_text_of_a_finished_job_of_the_same_tenant_is_used(
    chat: ScriptedChatServer, redis: Redis, tenant: str
) -> None:
    store = JobStore(redis)
    ocr_text = "Scanned page one. The harbour froze in January."
    done = await _finished_job(store, tenant, {"text": ocr_text, "pages": 1})
    chat.reset(lambda r: Reply("The harbour froze."))
    result = await summarizer(settings(chat.base_url), store).run(
        SummarizeInput(job_id=done), RecordingContext(tenant=tenant)
    )
    assert result.summary == "The harbour froze."
    assert ocr_text in chat.requests[0].prompt


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("other tenant", "source_job_not_found"),
        ("unknown id", "source_job_not_found"),
        ("still running", "source_job_not_succeeded"),
        ("no text", "source_job_has_no_text"),
        ("file", "file_input_unavailable"),
    ],
)
async def test_sources_that_cannot_give_a_text_fail_with_a_clear_code(
    redis: Redis, tenant: str, case: str, code: str
) -> None:
    store = JobStore(redis)
    source: dict[str, str]
    if case == "other tenant":
        source = {"job_id": await _finished_job(store, "someone-else", {"text": "secret"})}
    elif case == "unknown id":
        source = {"job_id": str(uuid.uuid4())}
    elif case == "still running":
        source = {"job_id": await _finished_job(store, tenant, {}, ok=False)}
    elif case == "no text":
        source = {"job_id": await _finished_job(store, tenant, {"entities": []})}
    else:
        source = {"file_id": "f-123"}
    with pytest.raises(JobFailure) as failure:
        await summarizer(settings(None), store).run(
            SummarizeInput.model_validate(source), RecordingContext(tenant=tenant)
        )
    assert failure.value.code == code
    assert "secret" not in failure.value.message
