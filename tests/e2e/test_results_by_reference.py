"""Results by reference and text sources through the whole system: a real NER result over the
default `RESULT_INLINE_MAX_BYTES` (256 KiB) travels as a reference and is served as the same
JSON; an OCR job's text is the input of an NER job (`job_id`), a PDF upload too (`file_id`)."""

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from shared import redis_keys as keys
from shared.fold import REF_MARK
from shared.results import DEFAULT_INLINE_MAX_BYTES
from tests.e2e.conftest import Stack
from tests.e2e.helpers import follow
from tests.e2e.test_ocr import upload
from tests.support.ocr_samples import born_digital_pdf

pytestmark = pytest.mark.e2e

SENTENCE = "Barack Obama met Angela Merkel in Berlin, then flew with Emmanuel Macron to Paris. "
LINES = (
    ("Barack Obama visited Paris in June.", "Angela Merkel met him in Berlin."),
    ("Emmanuel Macron spoke in London on Friday.",),
)


async def run(client: httpx.AsyncClient, operation: str, job_input: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/jobs", json={"operation": operation, "input": job_input})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    events = await follow(client, job_id)
    view = (await client.get(f"/v1/jobs/{job_id}")).json()
    view["events"] = events
    return dict(view)


@pytest.mark.timeout(300)  # the stack's start (a loaded machine: 40 s) and 85,000 characters of NER
async def test_a_result_over_the_default_threshold_is_kept_by_reference_and_served_whole(
    stack: Stack, alpha: httpx.AsyncClient, redis: Redis, service_env: dict[str, str]
) -> None:
    text = SENTENCE * 1000  # about 5,000 entities: some 300 KB of JSON
    job = await run(alpha, "ner.entities", {"text": text})
    assert job["status"] == "succeeded", job
    terminal = job["events"][-1]
    assert terminal[0] == "succeeded"
    ref = terminal[2]["result_ref"]  # streams carry the reference, not the result
    assert terminal[2]["result"] is None
    assert ref["size"] > DEFAULT_INLINE_MAX_BYTES
    stored = (Path(service_env["STORAGE_DIR"]) / ref["key"]).read_bytes()
    assert (len(stored), hashlib.sha256(stored).hexdigest()) == (ref["size"], ref["sha256"])
    kept = str(await redis.get(keys.result_key(job["id"])))
    assert kept.startswith(REF_MARK)
    assert len(kept) < 300  # Redis holds the reference only

    result = job["result"]  # GET /v1/jobs/{id}: the result itself, as for a small one
    assert job["result_ref"] is None
    assert len(result["entities"]) > 3000
    assert all(text[e["start"] : e["end"]] == e["text"] for e in result["entities"])
    assert {e["text"] for e in result["entities"]} >= {"Barack Obama", "Angela Merkel", "Berlin", "Paris"}
    alone = await alpha.get(f"/v1/jobs/{job['id']}/result")
    assert alone.status_code == 200
    assert alone.headers["content-type"] == "application/json"
    assert alone.content == stored
    assert json.loads(alone.content) == result
    small = await run(alpha, "ner.entities", {"text": "Barack Obama visited Paris."})
    assert small["events"][-1][2]["result"] == small["result"]  # under the threshold: inline
    assert (await alpha.get(f"/v1/jobs/{small['id']}/result")).json() == small["result"]


async def test_ner_reads_the_text_of_an_ocr_job_or_of_a_pdf(
    alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    pdf = born_digital_pdf(LINES, name="people.pdf")
    stored = await upload(alpha, pdf.name, pdf.data)
    ocr = await run(alpha, "ocr.pdf", {"file_id": stored["id"]})
    assert ocr["status"] == "succeeded", ocr
    for source in ({"job_id": ocr["id"]}, {"file_id": stored["id"]}):
        ner = await run(alpha, "ner.entities", source)
        assert ner["status"] == "succeeded", ner
        found = {(e["text"], e["label"]) for e in ner["result"]["entities"]}
        assert {("Barack Obama", "PERSON"), ("Paris", "GPE"), ("London", "GPE")} <= found, found
        if "job_id" in source:
            text = ocr["result"]["text"]
            assert all(text[e["start"] : e["end"]] == e["text"] for e in ner["result"]["entities"])

    foreign = await run(beta, "ner.entities", {"job_id": ocr["id"]})  # another tenant's job
    assert (foreign["status"], foreign["error"]["code"]) == ("failed", "source_job_not_found")
    unknown = await run(alpha, "ner.entities", {"job_id": "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a"})
    assert (unknown["status"], unknown["error"]["code"]) == ("failed", "source_job_not_found")
    no_text = await run(alpha, "ner.entities", {"job_id": unknown["id"]})  # failed, no text
    assert (no_text["status"], no_text["error"]["code"]) == ("failed", "source_job_not_succeeded")
    both = await alpha.post(
        "/v1/jobs", json={"operation": "ner.entities", "input": {"text": "x", "job_id": ocr["id"]}}
    )
    assert both.status_code == 422
    assert "exactly one of text, file_id, job_id" in both.text
    assert (await alpha.get(f"/v1/jobs/{unknown['id']}/result")).status_code == 409  # failed: none
    assert (await alpha.get(f"/v1/jobs/{foreign['id']}/result")).status_code == 404  # beta's job
