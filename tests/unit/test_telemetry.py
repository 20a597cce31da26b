import io
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY

from shared.schemas import SEQ_PER_ATTEMPT, Failed, JobError, Retrying, Started, Succeeded
from shared.telemetry.logs import JsonFormatter, RedactQueries, _TraceContext, log_job_event
from shared.telemetry.metrics import observe_job_event


def _envelope(operation: str, attempt: int = 1, seq: int = 1) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "job_id": "j1",
        "tenant": "acme",
        "operation": operation,
        "attempt": attempt,
        "seq": attempt * SEQ_PER_ATTEMPT + seq,
        "at": now,
        "job_created_at": now - timedelta(seconds=2),
    }


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_follow_a_job_through_a_retry_to_success() -> None:
    op = f"test.{uuid.uuid4().hex[:8]}"  # labels of this test only
    observe_job_event(Started(**_envelope(op)))
    error = JobError(code="provider_unavailable", message="503")
    observe_job_event(Retrying(**_envelope(op, seq=2), next_attempt_at=datetime.now(UTC), error=error))
    observe_job_event(Started(**_envelope(op, attempt=2)))
    observe_job_event(Succeeded(**_envelope(op, attempt=2, seq=2), result={}))

    assert _value("jobs_started_total", operation=op) == 2
    assert _value("jobs_retries_total", operation=op, code="provider_unavailable") == 1
    assert _value("jobs_finished_total", operation=op, outcome="succeeded") == 1
    assert _value("job_duration_seconds_count", operation=op, outcome="retrying") == 1
    assert _value("job_duration_seconds_count", operation=op, outcome="succeeded") == 1
    # queue wait is measured for the first attempt only (submission -> first start)
    assert _value("job_queue_wait_seconds_count", operation=op) == 1
    assert 1.9 < _value("job_queue_wait_seconds_sum", operation=op) < 5


def test_a_failure_counts_its_code() -> None:
    op = f"test.{uuid.uuid4().hex[:8]}"
    observe_job_event(Failed(**_envelope(op), error=JobError(code="invalid_input", message="x")))
    assert _value("jobs_finished_total", operation=op, outcome="failed") == 1
    assert _value("jobs_failures_total", operation=op, code="invalid_input") == 1
    assert _value("job_duration_seconds_count", operation=op, outcome="failed") == 0  # never started here


def test_a_state_change_is_one_json_line_with_the_job_and_the_trace() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("ner"))
    handler.addFilter(_TraceContext())
    events = logging.getLogger("jobs.events")
    events.addHandler(handler)
    events.setLevel(logging.INFO)
    tracer = TracerProvider().get_tracer("test")
    try:
        with tracer.start_as_current_span("job") as span:
            log_job_event(Failed(**_envelope("ner.entities"), error=JobError(code="timeout", message="slow")))
    finally:
        events.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert {k: record[k] for k in ("job_id", "tenant", "operation", "attempt", "event", "status")} == {
        "job_id": "j1",
        "tenant": "acme",
        "operation": "ner.entities",
        "attempt": 1,
        "event": "failed",
        "status": "failed",
    }
    assert record["error_code"] == "timeout"
    assert record["service"] == "ner"
    assert record["level"] == "INFO"


def test_query_strings_never_reach_a_log_line() -> None:
    """uvicorn's access line and its WebSocket line, as uvicorn formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("api"))
    handler.addFilter(RedactQueries())
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    key = "a-secret-key-0123456789"
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/v1/events?access_token={key}", "1.1", 200
        )
        access.info(
            '%s - "WebSocket %s" [accepted]',
            "127.0.0.1:5000",
            f"/v1/jobs/j1/ws?last_event_id=0&access_token={key}",
        )
        access.info("GET %s", f"http://127.0.0.1:8000/v1/jobs?status=failed&access_token={key}")
        access.info("no query here: %s", "/v1/jobs")
    finally:
        access.removeHandler(handler)
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert key not in stream.getvalue()
    assert messages == [
        '127.0.0.1:5000 - "GET /v1/events?<redacted> HTTP/1.1" 200',
        '127.0.0.1:5000 - "WebSocket /v1/jobs/j1/ws?<redacted>" [accepted]',
        "GET http://127.0.0.1:8000/v1/jobs?<redacted>",
        "no query here: /v1/jobs",
    ]
