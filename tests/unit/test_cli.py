"""The CLI's side of the files API (`POST /v1/files`), which is being built in parallel: the
request the CLI sends and how the answer's id becomes the job's input, against a mock."""

import io
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.ask import AnswerPrinter
from cli.client import ApiError, JobsClient
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


def test_ask_prints_only_what_each_event_adds() -> None:
    out = io.StringIO()
    printer = AnswerPrinter(out)
    for text in ["", "The lease", "The lease", "The lease ends", "The lease ends [1]."]:
        printer.show(text)
    assert out.getvalue() == "The lease ends [1]."
    printer.show("Something else")  # not an extension: printed again whole, on its own line
    assert out.getvalue() == "The lease ends [1].\nSomething else"
