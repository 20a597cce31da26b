"""The LLM worker as a real process, driven over HTTP, its provider a scripted server."""

import json
import re
import uuid
from typing import Any

import httpx
import pytest

from shared.schemas import Progress, parse_event
from shared.schemas.topology import EVENTS_EXCHANGE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import final_status, follow, submit
from tests.support.chat_server import ChatRequest, Reply, ScriptedChatServer
from tests.support.ocr_samples import born_digital_pdf, image_formats

pytestmark = pytest.mark.e2e

PART = re.compile(r"This is part (\d+) of (\d+)")


async def run_job(client: httpx.AsyncClient, operation: str, job_input: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/jobs", json={"operation": operation, "input": job_input})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    final_status(await follow(client, job_id))
    view = (await client.get(f"/v1/jobs/{job_id}")).json()
    view["events"] = await follow(client, job_id, last_event_id=0)  # the whole history
    return dict(view)


def summaries(request: ChatRequest) -> Reply:
    if match := PART.search(request.prompt):
        return Reply(f"Part {match[1]} covers the harbour.", usage=(120, 6))
    return Reply("The harbour froze, then trade resumed.", usage=(60, 7))


async def test_summarize_a_long_text_with_progress_per_chunk(
    stack: Stack, alpha: httpx.AsyncClient, chat_server: ScriptedChatServer
) -> None:
    chat_server.reset(summaries)
    # The worker's progress events as published: the read model keeps only those it applied in
    # order (the projector applies events concurrently and drops an older one arriving late).
    channel = await stack.amqp.channel()
    published = await channel.declare_queue(f"test-{uuid.uuid4()}", exclusive=True)
    await published.bind(EVENTS_EXCHANGE, routing_key="llm.summarize.progress")
    text = " ".join(
        f"In year {y} the harbour froze for {y % 5 + 1} weeks and trade stopped." for y in range(150)
    )
    job = await run_job(alpha, "llm.summarize", {"text": text})
    assert job["status"] == "succeeded", job
    result = job["result"]
    maps = [r for r in chat_server.requests if PART.search(r.prompt)]
    combines = len(chat_server.requests) - len(maps)
    assert result["chunks"] == len(maps) >= 4
    assert combines >= 1
    assert result["summary"] == "The harbour froze, then trade resumed."
    assert result["model"] == "scripted-model"
    assert result["method"] == "map-reduce"
    assert result["usage"] == {
        "prompt_tokens": 120 * len(maps) + 60 * combines,
        "completion_tokens": 6 * len(maps) + 7 * combines,
        "estimated": False,
    }
    progress: list[Progress] = []
    while (message := await published.get(timeout=5, fail=False)) is not None:
        event = parse_event(message.body)
        if event.job_id == job["id"]:
            assert isinstance(event, Progress)
            progress.append(event)
    await channel.close()
    assert len(progress) == len(chat_server.requests)
    assert sum(p.message.startswith("chunk ") for p in progress) == len(maps)
    assert [p.seq for p in progress] == sorted(p.seq for p in progress)
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress)
    applied = [data for kind, _, data in job["events"] if kind == "progress"]
    assert 1 <= len(applied) <= len(progress)
    assert all(r.body["model"] == "e2e-model" for r in chat_server.requests)


async def test_extract_repairs_an_invalid_answer(
    alpha: httpx.AsyncClient, chat_server: ScriptedChatServer
) -> None:
    answers = iter([Reply('{"city": "Oslo"}'), Reply('{"city": "Oslo", "population": 709000}')])
    chat_server.reset(lambda r: next(answers))
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    job = await run_job(alpha, "llm.extract", {"text": "Oslo has 709,000 inhabitants.", "schema": schema})
    assert job["status"] == "succeeded", job
    assert job["result"]["data"] == {"city": "Oslo", "population": 709000}
    assert job["result"]["repairs"] == 1
    assert "'population' is a required property" in chat_server.requests[1].prompt
    assert json.dumps(schema) in chat_server.requests[0].prompt


async def test_a_job_id_input_reads_only_the_same_tenants_finished_jobs(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient, chat_server: ScriptedChatServer
) -> None:
    chat_server.reset(lambda r: Reply("never asked"))
    ner = await submit(alpha, "Barack Obama visited Paris.")
    assert final_status(await follow(alpha, ner["id"])) == "succeeded"
    own = await run_job(alpha, "llm.summarize", {"job_id": ner["id"]})
    assert own["status"] == "failed"
    assert own["error"]["code"] == "source_job_has_no_text"  # an NER result has entities, no text
    foreign = await run_job(beta, "llm.summarize", {"job_id": ner["id"]})
    assert foreign["status"] == "failed"
    assert foreign["error"]["code"] == "source_job_not_found"
    assert chat_server.requests == []


async def test_an_invalid_schema_is_refused_by_the_api(alpha: httpx.AsyncClient) -> None:
    response = await alpha.post(
        "/v1/jobs",
        json={"operation": "llm.extract", "input": {"text": "x", "schema": {"type": "widget"}}},
    )
    assert response.status_code == 422
    assert "not a valid JSON Schema" in response.text


async def test_an_uploaded_pdf_is_summarized_and_an_image_is_refused(
    alpha: httpx.AsyncClient, chat_server: ScriptedChatServer
) -> None:
    chat_server.reset(lambda r: Reply("A report on rainfall.", usage=(80, 5)))
    pdf = born_digital_pdf()
    response = await alpha.post("/v1/files", files={"file": (pdf.name, pdf.data, "application/pdf")})
    assert response.status_code == 201, response.text
    done = await run_job(alpha, "llm.summarize", {"file_id": response.json()["id"]})
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["summary"] == "A report on rainfall."
    assert pdf.pages[0].splitlines()[0] in chat_server.requests[0].prompt  # the PDF's text was sent
    image = image_formats()[0]
    uploaded = await alpha.post("/v1/files", files={"file": (image.name, image.data, "image/jpeg")})
    refused = await alpha.post(
        "/v1/jobs", json={"operation": "llm.summarize", "input": {"file_id": uploaded.json()["id"]}}
    )
    assert refused.status_code == 422
    assert "llm.summarize reads application/pdf" in refused.text
