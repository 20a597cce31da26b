"""OCR through the whole system: upload over HTTP, a job per file, the OCR worker as a
real process reading the file from shared storage, progress per page over SSE."""

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.schemas.topology import JOBS_EXCHANGE
from tests.e2e.conftest import KEYS, OCR_MAX_PAGES, UPLOAD_LIMIT, Stack
from tests.e2e.helpers import follow
from tests.e2e.test_dead_letters import publish_raw
from tests.support import ocr_samples
from tests.support.ocr_samples import character_error_rate

pytestmark = pytest.mark.e2e


async def upload(
    client: httpx.AsyncClient, name: str, data: bytes, claimed: str = "application/octet-stream"
) -> dict[str, Any]:
    response = await client.post("/v1/files", files={"file": (name, data, claimed)})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def run_ocr(
    client: httpx.AsyncClient, operation: str, file_id: str
) -> tuple[dict[str, Any], list[tuple[str, int, dict[str, Any]]]]:
    response = await client.post("/v1/jobs", json={"operation": operation, "input": {"file_id": file_id}})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    # from the job's first event: a fast first page can be over before the stream opens,
    # and a stream opened without Last-Event-ID starts from the job's state then
    events = await follow(client, job_id, last_event_id=0)
    view = (await client.get(f"/v1/jobs/{job_id}")).json()
    return view, events


async def test_a_pdf_is_read_page_by_page_with_one_progress_event_per_page(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    sample = ocr_samples.mixed_pdf()
    stored = await upload(alpha, "mixed.pdf", sample.data)
    assert stored["content_type"] == "application/pdf"  # from the bytes, not the client's claim
    assert stored["size"] == len(sample.data)
    assert stored["sha256"] == hashlib.sha256(sample.data).hexdigest()
    assert stored["filename"] == "mixed.pdf"
    assert (await alpha.get(f"/v1/files/{stored['id']}")).json() == stored

    view, events = await run_ocr(alpha, "ocr.pdf", stored["id"])
    assert view["status"] == "succeeded", view
    progress = [data for kind, _, data in events if kind == "progress"]
    assert [p["message"] for p in progress] == ["page 1 of 2", "page 2 of 2"]
    assert [p["fraction"] for p in progress] == [0.5, 1.0]
    pages = view["result"]["pages"]
    assert [p["method"] for p in pages] == ["text-layer", "ocr"]
    assert pages[0]["text"] == sample.pages[0]
    edits, length = character_error_rate(pages[1]["text"], sample.pages[1])
    assert edits / length <= 0.02, pages[1]["text"]
    assert view["result"]["engine"].startswith("rapidocr-onnxruntime-")


async def test_files_belong_to_their_tenant(
    stack: Stack, alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    stored = await upload(alpha, "page.png", ocr_samples.clean_renders()[0].data)
    file_id = stored["id"]
    assert (await beta.get(f"/v1/files/{file_id}")).status_code == 404
    assert (await beta.delete(f"/v1/files/{file_id}")).status_code == 404
    refused = await beta.post("/v1/jobs", json={"operation": "ocr.image", "input": {"file_id": file_id}})
    assert refused.status_code == 404, refused.text

    # published straight to the broker, bypassing the API: the worker refuses it too
    job_id = str(uuid.uuid4())
    command = {
        "job_id": job_id,
        "tenant": "beta",
        "operation": "ocr.image",
        "input": {"file_id": file_id},
        "created_at": datetime.now(UTC).isoformat(),
    }
    await publish_raw(stack, JOBS_EXCHANGE, "ocr.image", json.dumps(command).encode(), job_id)
    view = await wait_finished(beta, job_id)
    assert view["status"] == "failed", view
    assert view["error"]["code"] == "file_not_found"

    assert (await alpha.delete(f"/v1/files/{file_id}")).status_code == 204
    assert (await alpha.get(f"/v1/files/{file_id}")).status_code == 404


async def test_a_file_link_opens_that_file_alone_without_a_key(
    stack: Stack, alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    """What a browser tab, which cannot send the key, opens: the dashboard's source links."""
    data = ocr_samples.born_digital_pdf().data
    file_id = (await upload(alpha, "paper.pdf", data))["id"]
    other = (await upload(alpha, "other.pdf", data))["id"]
    made = await alpha.post(f"/v1/files/{file_id}/link")
    assert made.status_code == 201, made.text
    link = made.json()
    url = link["url"]
    assert url.startswith(f"/v1/files/{file_id}/content?ticket=")
    assert made.headers["location"] == url
    lasts = (datetime.fromisoformat(link["expires_at"]) - datetime.now(UTC)).total_seconds()
    assert 850 < lasts <= 900  # API_FILE_LINK_SECONDS
    ticket = url.partition("ticket=")[2]

    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        opened = await anonymous.get(url)
        assert opened.status_code == 200, opened.text
        assert opened.content == data
        assert opened.headers["content-type"] == "application/pdf"
        assert opened.headers["content-length"] == str(len(data))
        assert opened.headers["content-disposition"] == "inline; filename*=UTF-8''paper.pdf"
        assert opened.headers["x-content-type-options"] == "nosniff"
        assert (await anonymous.get(url)).status_code == 200  # until it expires, not once
        for path, params in [
            (f"/v1/files/{file_id}/content", {}),
            (f"/v1/files/{other}/content", {"ticket": ticket}),  # made for another file
            (f"/v1/files/{file_id}/content", {"ticket": ticket[:-1]}),
            (f"/v1/files/{file_id}/content", {"access_token": KEYS["alpha"]}),  # keys: streams only
        ]:
            refused = await anonymous.get(path, params=params)
            assert refused.status_code == 401, (path, params)
            assert refused.headers["www-authenticate"] == "Bearer"

    await asyncio.sleep(0.5)  # the access log line is written after the response
    log = stack.services["api"].log_text()
    assert f"/v1/files/{file_id}/content?<redacted>" in log
    assert ticket not in log

    assert (await alpha.get(f"/v1/files/{file_id}/content")).content == data  # with the key
    assert (await beta.get(f"/v1/files/{file_id}/content")).status_code == 404
    assert (await beta.post(f"/v1/files/{file_id}/link")).status_code == 404
    assert (await beta.get(url)).status_code == 404  # a key sent decides, whatever the ticket

    assert (await alpha.delete(f"/v1/files/{file_id}")).status_code == 204
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        assert (await anonymous.get(url)).status_code == 404
    assert (await alpha.post(f"/v1/files/{file_id}/link")).status_code == 404


async def wait_finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(300):
        response = await client.get(f"/v1/jobs/{job_id}")
        if response.status_code == 200 and response.json()["status"] in ("succeeded", "failed"):
            return dict(response.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


async def test_uploads_are_typed_from_their_bytes_and_limited(stack: Stack, alpha: httpx.AsyncClient) -> None:
    text = await alpha.post("/v1/files", files={"file": ("x.png", b"just some text", "image/png")})
    assert text.status_code == 415, text.text
    big = b"%PDF-1.7\n" + b"0" * UPLOAD_LIMIT
    too_large = await alpha.post("/v1/files", files={"file": ("big.pdf", big, "application/pdf")})
    assert too_large.status_code == 413, too_large.text
    pdf = await upload(alpha, "doc.pdf", ocr_samples.born_digital_pdf().data)
    wrong_operation = await alpha.post(
        "/v1/jobs", json={"operation": "ocr.image", "input": {"file_id": pdf["id"]}}
    )
    assert wrong_operation.status_code == 422
    assert "application/pdf" in wrong_operation.text


async def test_bad_files_fail_with_their_own_code_and_the_worker_carries_on(
    stack: Stack, alpha: httpx.AsyncClient
) -> None:
    cases = {name: (code, data) for name, (code, data) in ocr_samples.bad_files().items()}
    many = ocr_samples.born_digital_pdf(ocr_samples.PARAGRAPHS * 2)
    assert len(many.pages) > OCR_MAX_PAGES
    cases["many-pages.pdf"] = ("too_many_pages", many.data)
    for name, (code, data) in cases.items():
        stored = await upload(alpha, name, data)
        operation = "ocr.pdf" if stored["content_type"] == "application/pdf" else "ocr.image"
        view, _ = await run_ocr(alpha, operation, stored["id"])
        assert view["status"] == "failed", (name, view)
        assert view["error"]["code"] == code, (name, view["error"])
    assert stack.services["ocr"].alive()

    good = ocr_samples.born_digital_pdf()
    stored = await upload(alpha, "digital.pdf", good.data)
    view, _ = await run_ocr(alpha, "ocr.pdf", stored["id"])
    assert view["status"] == "succeeded", view
    assert view["result"]["text"] == "\n\f".join(good.pages)
