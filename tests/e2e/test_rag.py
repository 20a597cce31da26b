"""Document collections through the whole system: PDFs uploaded over HTTP, `rag.index` jobs run
by the rag service as a real process (text layer, OCR for scans, the real embedder), the
synchronous search over RabbitMQ RPC, `rag.ask` answered extractively and streamed from the
scripted Chat Completions server, tenants kept apart, bad input refused."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import follow
from tests.e2e.test_cli import JOBS
from tests.support import ocr_samples
from tests.support.chat_server import ChatRequest, Reply, ScriptedChatServer
from tools.devstack.process import ServiceProcess

pytestmark = pytest.mark.e2e

LEASE = (
    "The warehouse lease starts on 1 April 2021 and runs for ten years.",
    "It ends on 31 March 2031 unless the tenant renews it.",
)
RENT = (
    "Rent is 4,200 euros per month, paid quarterly in advance.",
    "Payments go by bank transfer to the landlord's account.",
)
INSURANCE = (
    "The tenant insures the building against fire and flood.",
    "Proof of insurance is sent to the landlord every January.",
)
PAGES = (LEASE, RENT, INSURANCE)


def collection() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"


async def upload(client: httpx.AsyncClient, data: bytes, name: str = "doc.pdf") -> str:
    response = await client.post("/v1/files", files={"file": (name, data, "application/pdf")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def run(
    client: httpx.AsyncClient, operation: str, payload: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, int, dict[str, Any]]]]:
    response = await client.post("/v1/jobs", json={"operation": operation, "input": payload})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    events = await follow(client, job_id, last_event_id=0)  # every event, from the first
    return (await client.get(f"/v1/jobs/{job_id}")).json(), events


async def index(client: httpx.AsyncClient, file_id: str, name: str) -> dict[str, Any]:
    view, events = await run(client, "rag.index", {"file_id": file_id, "collection": name})
    assert view["status"] == "succeeded", view
    view["progress"] = [d for kind, _, d in events if kind == "progress"]
    return view


async def search(client: httpx.AsyncClient, name: str, query: str, top_k: int = 3) -> httpx.Response:
    return await client.post(f"/v1/collections/{name}/search", json={"query": query, "top_k": top_k})


@pytest.fixture
async def indexed(stack: Stack, alpha: httpx.AsyncClient) -> AsyncIterator[tuple[str, str]]:
    """A three-page born-digital PDF indexed into a fresh collection of alpha's."""
    name = collection()
    file_id = await upload(alpha, ocr_samples.born_digital_pdf(PAGES).data)
    await index(alpha, file_id, name)
    yield name, file_id
    await alpha.delete(f"/v1/collections/{name}")


async def test_indexing_reports_each_page_and_search_finds_the_right_page_first(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    name = collection()
    file_id = await upload(alpha, ocr_samples.born_digital_pdf(PAGES).data)
    view = await index(alpha, file_id, name)
    result = view["result"]
    assert result["pages"] == 3
    assert result["chunks"] >= 3
    assert result["ocr_pages"] == 0
    assert result["embedding_model"]
    assert result["replaced_chunks"] == 0
    assert result["note"] == ""
    assert [p["message"].split(":")[0] for p in view["progress"]] == [f"page {i} of 3" for i in (1, 2, 3)]
    fractions = [p["fraction"] for p in view["progress"]]
    assert fractions == sorted(fractions)
    assert fractions[-1] < 1.0

    for query, page in [
        ("When does the lease end?", 1),
        ("how much is the monthly rent", 2),
        ("who pays for fire insurance", 3),
    ]:
        response = await search(alpha, name, query)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert len(results) == 3
        assert (results[0]["page"], results[0]["file_id"]) == (page, file_id), (query, results)
        assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)

    listed = (await alpha.get("/v1/collections")).json()["collections"]
    assert {"name": name, "files": 1, "pages": 3, "chunks": result["chunks"]} in listed
    detail = (await alpha.get(f"/v1/collections/{name}")).json()
    assert detail["pages"] == 3
    assert detail["chunks"] == result["chunks"]
    assert [f["file_id"] for f in detail["files"]] == [file_id]


async def test_scanned_pages_are_read_by_ocr(stack: Stack, alpha: httpx.AsyncClient) -> None:
    name = collection()
    file_id = await upload(alpha, ocr_samples.mixed_pdf().data)
    result = (await index(alpha, file_id, name))["result"]
    assert result["pages"] == 2
    assert result["ocr_pages"] == 1
    assert result["chunks"] >= 2
    found = (await search(alpha, name, "shipment left Rotterdam on Friday", 1)).json()["results"]
    assert found[0]["page"] == 2
    assert "Rotterdam" in found[0]["text"]


async def test_a_pdf_without_text_indexes_nothing_and_says_so(stack: Stack, alpha: httpx.AsyncClient) -> None:
    blank = ocr_samples.born_digital_pdf(((" ",),), name="blank.pdf").data
    name = collection()
    result = (await index(alpha, await upload(alpha, blank), name))["result"]
    assert result["chunks"] == 0
    assert result["note"].startswith("no text found")
    view, _ = await run(alpha, "rag.ask", {"collection": name, "question": "anything?"})
    assert (view["status"], view["error"]["code"]) == ("failed", "collection_empty"), view
    assert (await search(alpha, name, "anything")).json() == {"results": []}


async def test_indexing_a_file_again_replaces_its_chunks_and_files_can_be_removed(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    name = collection()
    file_id = await upload(alpha, ocr_samples.born_digital_pdf(PAGES).data)
    first = (await index(alpha, file_id, name))["result"]
    again = (await index(alpha, file_id, name))["result"]
    assert again["replaced_chunks"] == first["chunks"]
    detail = (await alpha.get(f"/v1/collections/{name}")).json()
    assert detail["chunks"] == first["chunks"]
    assert len(detail["files"]) == 1
    results = (await search(alpha, name, "rent paid quarterly", 50)).json()["results"]
    assert len(results) == first["chunks"]  # no duplicates of the old chunks

    other = await upload(alpha, ocr_samples.born_digital_pdf(ocr_samples.PARAGRAPHS).data)
    await index(alpha, other, name)
    assert (await alpha.delete(f"/v1/collections/{name}/files/{file_id}")).status_code == 204
    assert (await alpha.delete(f"/v1/collections/{name}/files/{file_id}")).status_code == 404
    remaining = (await search(alpha, name, "rent paid quarterly", 50)).json()["results"]
    assert remaining
    assert {r["file_id"] for r in remaining} == {other}

    assert (await alpha.delete(f"/v1/collections/{name}")).status_code == 204
    assert (await alpha.get(f"/v1/collections/{name}")).status_code == 404
    assert (await search(alpha, name, "rent")).status_code == 404
    assert (await alpha.delete(f"/v1/collections/{name}")).status_code == 404


async def test_collections_belong_to_their_tenant(
    indexed: tuple[str, str], alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    name, file_id = indexed
    assert name not in {c["name"] for c in (await beta.get("/v1/collections")).json()["collections"]}
    assert (await beta.get(f"/v1/collections/{name}")).status_code == 404
    assert (await search(beta, name, "rent")).status_code == 404
    assert (await beta.delete(f"/v1/collections/{name}/files/{file_id}")).status_code == 404
    assert (await beta.delete(f"/v1/collections/{name}")).status_code == 404
    refused = await beta.post(
        "/v1/jobs", json={"operation": "rag.index", "input": {"file_id": file_id, "collection": name}}
    )
    assert refused.status_code == 404, refused.text  # alpha's file
    view, _ = await run(beta, "rag.ask", {"collection": name, "question": "When does the lease end?"})
    assert view["error"]["code"] == "collection_empty"
    assert (await alpha.get(f"/v1/collections/{name}")).status_code == 200  # untouched


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/collections/Bad Name/search", {"query": "x"}),
        ("/v1/collections/ok/search", {"query": "   "}),
        ("/v1/collections/ok/search", {"query": "x", "top_k": 0}),
        ("/v1/collections/ok/search", {"query": "x", "top_k": 51}),
    ],
)
async def test_bad_search_input_is_422(stack: Stack, alpha: httpx.AsyncClient, path: str, body: Any) -> None:
    assert (await alpha.post(path, json=body)).status_code == 422


@pytest.mark.parametrize(
    ("operation", "payload"),
    [
        ("rag.ask", {"collection": "ok", "question": ""}),
        ("rag.ask", {"collection": "ok", "question": "why?", "top_k": 51}),
        ("rag.ask", {"collection": "-no", "question": "why?"}),
        ("rag.index", {"file_id": "0" * 32, "collection": "x" * 64}),
    ],
)
async def test_bad_job_input_is_422(
    stack: Stack, alpha: httpx.AsyncClient, operation: str, payload: dict[str, Any]
) -> None:
    response = await alpha.post("/v1/jobs", json={"operation": operation, "input": payload})
    assert response.status_code == 422, response.text


async def test_an_unknown_collection_fails_collection_empty(stack: Stack, alpha: httpx.AsyncClient) -> None:
    view, _ = await run(alpha, "rag.ask", {"collection": collection(), "question": "anything?"})
    assert (view["status"], view["error"]["code"]) == ("failed", "collection_empty"), view


async def test_an_answer_streams_and_cites_its_sources(
    indexed: tuple[str, str], alpha: httpx.AsyncClient, chat_server: ScriptedChatServer
) -> None:
    name, file_id = indexed
    answer = "The lease ends on 31 March 2031 [1], unless it is renewed."
    seen: list[ChatRequest] = []

    def script(request: ChatRequest) -> Reply:
        seen.append(request)
        return Reply(text=answer, chunk_delay=0.02)

    chat_server.reset(script)
    view, events = await run(alpha, "rag.ask", {"collection": name, "question": "When does the lease end?"})
    assert view["status"] == "succeeded", view
    result = view["result"]
    assert result["answer"] == answer
    assert result["method"] == "generated"
    assert result["model"] == "scripted-model"
    assert result["usage"]["completion_tokens"] > 0
    assert result["sources"][0]["page"] == 1
    assert result["sources"][0]["file_id"] == file_id
    texts = [d["message"] for kind, _, d in events if kind == "progress" and d["message"]]
    assert len(texts) >= 3
    assert texts[-1] == answer
    assert all(answer.startswith(t) for t in texts)
    assert len(set(texts)) == len(texts)
    assert seen[0].body["model"] == "e2e-rag-model"
    assert seen[0].streamed
    assert "31 March 2031" in seen[0].prompt
    assert "[1]" in seen[0].prompt


async def test_without_an_llm_the_answer_is_the_best_passage(
    indexed: tuple[str, str], stack: Stack, alpha: httpx.AsyncClient
) -> None:
    name, _ = indexed
    main = stack.services["rag"]
    main.stop()
    logs = main.log_path.parent if main.log_path else None
    extractive = ServiceProcess(
        "rag", {**main.env, "RAG_LLM_BASE_URL": ""}, logs, name="rag-extractive"
    ).start()
    try:
        await stack.wait_consuming("rag.jobs")
        view, _events = await run(alpha, "rag.ask", {"collection": name, "question": "how much is the rent?"})
    finally:
        extractive.stop()
        main.restart()
        await stack.wait_consuming("rag.jobs")
    assert view["status"] == "succeeded", view
    result = view["result"]
    assert result["method"] == "extractive"
    assert result["model"] == "extractive"
    assert result["sources"][0]["page"] == 2
    assert result["answer"] == result["sources"][0]["text"]
    assert "4,200 euros" in result["answer"]


async def test_jobs_ask_prints_the_answer_as_it_streams(
    indexed: tuple[str, str], stack: Stack, chat_server: ScriptedChatServer
) -> None:
    name, file_id = indexed
    answer = "The lease ends on 31 March 2031 [1], ten years after it started on 1 April 2021 [1]."
    chat_server.reset(lambda request: Reply(text=answer, chunk_delay=0.15))
    env = {"JOBS_API_URL": stack.base_url, "JOBS_API_KEY": KEYS["alpha"], "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        str(JOBS),
        "ask",
        name,
        "When does the lease end?",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.read(8), 60)
    assert proc.returncode is None  # part of the answer is out while the job still runs
    rest, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    assert (first + rest).decode() == answer + "\n"
    assert f"[1] file {file_id} page 1" in stderr.decode()
