"""The CLI's side of the files API (`POST /v1/files`), which is being built in parallel: the
request the CLI sends and how the answer's id becomes the job's input, against a mock."""

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.ask import AnswerPrinter
from cli.client import ApiError, JobsClient
from cli.display import PipelineProgress
from cli.main import app


def test_submit_with_file_uploads_first_and_passes_the_file_id(tmp_path: Path) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 not really a scan")
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.headers["authorization"] == "Bearer k"
        if request.url.path == "/v1/files":
            body = request.read()
            assert request.headers["content-type"].startswith("multipart/form-data")
            assert b'name="file"; filename="scan.pdf"' in body
            assert b"%PDF-1.4 not really a scan" in body
            return httpx.Response(201, json={"id": "f-123", "filename": "scan.pdf"})
        assert request.url.path == "/v1/jobs"
        assert json.loads(request.read()) == {"operation": "ocr.pdf", "input": {"file_id": "f-123"}}
        return httpx.Response(202, json={"id": "job-9", "operation": "ocr.pdf", "status": "queued"})

    client = JobsClient("http://api", "k", transport=httpx.MockTransport(api))
    result = CliRunner().invoke(app, ["submit", "ocr.pdf", "--file", str(scan)], obj=client)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("job-9")
    assert [r.url.path for r in seen] == ["/v1/files", "/v1/jobs"]


def test_upload_refused_is_reported_with_the_status() -> None:
    client = JobsClient(
        "http://api", "k", transport=httpx.MockTransport(lambda r: httpx.Response(415, json={"detail": "no"}))
    )
    with pytest.raises(ApiError, match="415: no") as raised:
        client.upload(Path(__file__))
    assert raised.value.status == 415


PIPELINE_VIEW: dict[str, Any] = {
    "id": "p-1",
    "operation": "pipeline",
    "status": "succeeded",
    "progress": {"fraction": 1.0, "message": "summary: succeeded"},
    "attempts": 1,
    "created_at": "2026-01-01T12:00:00Z",
    "result": {"steps": [{"id": "ocr", "job_id": "p-1.ocr", "status": "succeeded"}]},
    "error": None,
    "seq": 1_000_009,
    "steps": [
        {
            "id": "ocr",
            "job_id": "p-1.ocr",
            "operation": "ocr.pdf",
            "status": "succeeded",
            "progress": {"fraction": 1.0, "message": "page 2 of 2"},
        },
        {
            "id": "summary",
            "job_id": "p-1.summary",
            "operation": "llm.summarize",
            "after": "ocr",
            "status": "running",
            "progress": {"fraction": 0.5, "message": "chunk 1 of 2"},
        },
    ],
}


def test_pipeline_uploads_for_its_step_submits_and_follows_with_a_bar_per_step(tmp_path: Path) -> None:
    spec = tmp_path / "pipeline.json"
    steps: list[dict[str, Any]] = [
        {"id": "ocr", "operation": "ocr.pdf"},
        {"id": "summary", "operation": "llm.summarize", "after": "ocr"},
    ]
    spec.write_text(json.dumps({"steps": steps}))
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4")
    submitted: list[object] = []

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/files":
            return httpx.Response(201, json={"id": "f-1"})
        if request.url.path == "/v1/jobs":
            submitted.append(json.loads(request.read()))
            return httpx.Response(202, json={"id": "p-1", "operation": "pipeline", "status": "queued"})
        if request.url.path == "/v1/jobs/p-1/events":
            stream = 'event: progress\nid: 1000002\ndata: {"fraction": 0.5, "message": "ocr: succeeded"}\n\n'
            stream += 'event: succeeded\nid: 1000003\ndata: {"result": {}}\n\n'
            return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})
        assert request.url.path == "/v1/jobs/p-1"
        return httpx.Response(200, json=PIPELINE_VIEW)

    client = JobsClient("http://api", "k", transport=httpx.MockTransport(api))
    result = CliRunner().invoke(app, ["pipeline", str(spec), "--upload", f"ocr={scan}"], obj=client)
    assert result.exit_code == 0, result.output
    steps[0]["input"] = {"file_id": "f-1"}
    assert submitted == [{"operation": "pipeline", "input": {"steps": steps}}]
    assert json.loads(result.stdout) == PIPELINE_VIEW["result"]


def test_pipeline_refuses_an_upload_for_an_unknown_step(tmp_path: Path) -> None:
    spec = tmp_path / "pipeline.json"
    spec.write_text(json.dumps({"operation": "pipeline", "input": {"steps": [{"id": "ocr"}]}}))
    client = JobsClient("http://api", "k", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    result = CliRunner().invoke(app, ["pipeline", str(spec), "--upload", "nope=x.pdf"], obj=client)
    assert result.exit_code == 2
    assert "STEP=FILE" in result.output


def test_the_pipeline_view_has_a_bar_per_step() -> None:
    view = PipelineProgress(Console(file=io.StringIO()), "p-1")
    view.show({**PIPELINE_VIEW, "status": "running", "progress": {"fraction": 0.7, "message": ""}})
    assert view.bars == {"pipeline": 0.7, "ocr": 1.0, "summary": 0.5}


def test_ask_prints_only_what_each_event_adds() -> None:
    out = io.StringIO()
    printer = AnswerPrinter(out)
    for text in ["", "The lease", "The lease", "The lease ends", "The lease ends [1]."]:
        printer.show(text)
    assert out.getvalue() == "The lease ends [1]."
    printer.show("Something else")  # not an extension: printed again whole, on its own line
    assert out.getvalue() == "The lease ends [1].\nSomething else"
