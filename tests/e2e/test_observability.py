"""Metrics, structured logs and traces of the running stack, read the way operators read them."""

import asyncio
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx
from redis.asyncio import Redis

from shared.schemas.topology import JOBS_EXCHANGE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import delta, final_status, follow, recorded_queued_only, scrape, submit, value
from tests.support.otlp_collector import OtlpCollector, RecordedSpan

SPAN_KIND_SERVER, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER = 2, 4, 5


async def test_metrics_count_jobs_on_the_api_and_the_worker(
    stack: Stack, alpha: httpx.AsyncClient, redis: Redis
) -> None:
    api_url, ner_url = stack.metrics["api"], stack.metrics["ner"]
    api_before, ner_before = await scrape(api_url), await scrape(ner_url)
    projector_before = await scrape(stack.metrics["projector"])

    jobs = [await submit(alpha, "Angela Merkel met Emmanuel Macron in Berlin.") for _ in range(2)]
    # A job whose input no worker accepts, published straight to the broker: failed and dead-lettered.
    bad_id = str(uuid.uuid4())
    command = {
        "job_id": bad_id,
        "tenant": "alpha",
        "operation": "ner.entities",
        "input": {"text": 5},
        "attempt": 1,
        "created_at": datetime.now(UTC).isoformat(),
    }
    channel = await stack.amqp.channel()
    exchange = await channel.get_exchange(JOBS_EXCHANGE)
    # from a platform user (as the API would), so that only the input is what is wrong
    message = aio_pika.Message(json.dumps(command).encode(), user_id=stack.amqp_user)
    await exchange.publish(message, routing_key="ner.entities")
    await channel.close()

    # While a stream is open the API counts it: a job recorded as queued that no worker will
    # touch keeps its stream open (with keep-alives) until the client leaves.
    idle = await recorded_queued_only(redis)
    async with alpha.stream("GET", f"/v1/jobs/{idle.job_id}/events", timeout=60) as response:
        assert response.status_code == 200, await response.aread()
        # Keep a reference to the line iterator: one dropped mid-stream is finalized at once,
        # and httpx then closes the connection, which ends the stream on the server.
        lines = response.aiter_lines()
        async for line in lines:
            if line == "event: snapshot":
                break
        assert value(await scrape(api_url), "api_streams_open", transport="sse") == 1
    for _ in range(50):  # the API notices a gone client at its next keep-alive (1 s here)
        if value(await scrape(api_url), "api_streams_open", transport="sse") == 0:
            break
        await asyncio.sleep(0.1)
    for job in jobs:
        assert final_status(await follow(alpha, job["id"])) == "succeeded"
    for _ in range(100):
        if (await alpha.get(f"/v1/jobs/{bad_id}")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await alpha.get(f"/v1/jobs/{bad_id}")).json()["status"] == "failed"

    op = {"operation": "ner.entities"}
    # The worker counts an event once the broker confirmed it, which can be a moment after
    # the projector (and so the stream) already has it.
    for _ in range(50):
        ner_after = await scrape(ner_url)
        ended = [
            delta(ner_before, ner_after, "jobs_finished_total", **op, outcome=outcome)
            for outcome in ("succeeded", "failed")
        ]
        if ended[0] >= 2 and ended[1] >= 1:
            break
        await asyncio.sleep(0.1)
    api_after = await scrape(api_url)
    assert delta(api_before, api_after, "jobs_submitted_total", **op) == 2
    assert (
        delta(api_before, api_after, "http_requests_total", method="POST", route="/v1/jobs", status="202")
        == 2
    )
    assert value(api_after, "api_streams_open", transport="sse") == 0
    assert delta(ner_before, ner_after, "jobs_started_total", **op) == 2
    assert delta(ner_before, ner_after, "jobs_finished_total", **op, outcome="succeeded") == 2
    assert delta(ner_before, ner_after, "jobs_finished_total", **op, outcome="failed") == 1
    assert delta(ner_before, ner_after, "jobs_failures_total", **op, code="invalid_input") == 1
    assert (
        delta(ner_before, ner_after, "jobs_dead_lettered_total", queue="ner.jobs", code="invalid_input") == 1
    )
    assert delta(ner_before, ner_after, "job_duration_seconds_count", **op, outcome="succeeded") == 2
    assert delta(ner_before, ner_after, "job_duration_seconds_sum", **op, outcome="succeeded") > 0
    assert delta(ner_before, ner_after, "job_queue_wait_seconds_count", **op) == 2
    assert value(ner_after, "jobs_in_flight", queue="ner.jobs") == 0
    projector_after = await scrape(stack.metrics["projector"])
    # succeeded of two jobs (and their started, if they ran past NER_STARTED_EVENT_AFTER), failed of the third
    assert delta(projector_before, projector_after, "projector_events_total", outcome="applied") >= 3


def _traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"


async def _whole_trace(collector: OtlpCollector, trace_id: str) -> list[RecordedSpan]:
    """Spans are exported in batches, a fraction of a second after they end: wait until the
    worker's span is in (it ends after the events it published) and the projector has a span
    for each of those events."""
    for _ in range(100):
        spans = collector.trace(trace_id)
        worker_done = any(s.service == "ner" and s.kind == SPAN_KIND_CONSUMER for s in spans)
        # the worker's events and the API's command (the job's `queued` in the history)
        published = sum(
            (s.service, s.name) in (("ner", "job-events publish"), ("api", "jobs publish")) for s in spans
        )
        applied = sum(s.service == "projector" and s.kind == SPAN_KIND_CONSUMER for s in spans)
        if worker_done and published and applied >= published and any(s.service == "api" for s in spans):
            return spans
        await asyncio.sleep(0.1)
    found = [(s.service, s.name) for s in collector.trace(trace_id)]
    raise AssertionError(f"trace {trace_id} has only {found}")


async def test_one_trace_covers_api_worker_and_projector(
    stack: Stack, alpha: httpx.AsyncClient, otlp_collector: OtlpCollector
) -> None:
    trace_id, caller_span, traceparent = _traceparent()
    job = await submit(alpha, "Ada Lovelace worked with Charles Babbage in London.", traceparent=traceparent)
    assert final_status(await follow(alpha, job["id"])) == "succeeded"

    spans = await _whole_trace(otlp_collector, trace_id)
    by_id = {s.span_id: s for s in spans}

    def parent(span: RecordedSpan) -> RecordedSpan:
        assert span.parent_span_id in by_id, f"{span.service} {span.name}: parent not in the trace"
        return by_id[span.parent_span_id]

    request = next(s for s in spans if s.service == "api" and s.kind == SPAN_KIND_SERVER)
    assert request.name == "POST /v1/jobs"
    assert request.parent_span_id == caller_span  # the caller's traceparent was continued
    api_publishes = {s.name: s for s in spans if s.service == "api" and s.kind == SPAN_KIND_PRODUCER}
    assert sorted(api_publishes) == ["jobs publish"]  # the command, which is also the job's `queued`
    command_publish = api_publishes["jobs publish"]
    for publish in api_publishes.values():
        # within the request, through spans of the API only (FastAPI adds its own request,
        # dependency and endpoint spans)
        between = parent(publish)
        while between.parent_span_id != caller_span:
            assert between.service == "api", f"{between.service} {between.name} between request and publish"
            between = parent(between)
        assert (between.name, between.kind) == ("POST /v1/jobs", SPAN_KIND_SERVER)

    worker = next(s for s in spans if s.service == "ner" and s.kind == SPAN_KIND_CONSUMER)
    assert worker.name == "ner.jobs process"
    assert worker.attributes["messaging.message.id"] == job["id"]
    assert parent(worker) == command_publish  # carried in the AMQP headers
    stages = [s for s in spans if s.service == "ner" and s.name == "ner.chunk"]
    assert stages
    assert all(parent(s) == worker for s in stages)
    event_publishes = [s for s in spans if s.service == "ner" and s.name == "job-events publish"]
    assert len(event_publishes) >= 1  # succeeded (and started, past NER_STARTED_EVENT_AFTER)
    assert all(parent(s) == worker for s in event_publishes)

    applied = [s for s in spans if s.service == "projector" and s.kind == SPAN_KIND_CONSUMER]
    published = [*event_publishes, command_publish]
    assert {parent(s).span_id for s in applied} == {s.span_id for s in published}
    assert all(s.name == "jobs.history process" for s in applied)


def _job_lines(stack: Stack, service: str, job_id: str) -> list[dict[str, Any]]:
    lines = []
    for line in stack.services[service].log_text().splitlines():
        if job_id in line and line.startswith("{"):
            record = json.loads(line)
            if record.get("job_id") == job_id:
                lines.append(record)
    return lines


async def test_one_json_log_line_per_state_change(stack: Stack, alpha: httpx.AsyncClient) -> None:
    trace_id, _, traceparent = _traceparent()
    job = await submit(alpha, "Marie Curie lived in Paris.", traceparent=traceparent)
    assert final_status(await follow(alpha, job["id"])) == "succeeded"

    for _ in range(50):  # the worker logs right after the broker confirms its last event
        worker_lines = _job_lines(stack, "ner", job["id"])
        if any(r["event"] == "succeeded" for r in worker_lines):
            break
        await asyncio.sleep(0.1)
    api_lines = _job_lines(stack, "api", job["id"])
    assert [r["event"] for r in api_lines] == ["queued"]
    assert [r["event"] for r in worker_lines] in (["succeeded"], ["started", "succeeded"])
    for record in api_lines + worker_lines:
        assert record["tenant"] == "alpha"
        assert record["operation"] == "ner.entities"
        assert record["attempt"] == 1
        assert record["trace_id"] == trace_id
        assert record["level"] == "INFO"
        assert record["service"] in ("api", "ner")
        datetime.fromisoformat(record["time"])
    assert [r["status"] for r in worker_lines] == (
        ["succeeded"] if len(worker_lines) == 1 else ["running", "succeeded"]
    )


async def test_worker_metrics_listener_is_per_process(stack: Stack) -> None:
    for name in ("ner", "llm", "projector"):
        samples = await scrape(stack.metrics[name])
        assert ("process_resident_memory_bytes", frozenset()) in samples, name
    # the API's own metrics are on its internal listener (API_METRICS_PORT), not the public port
    assert ("process_resident_memory_bytes", frozenset()) in await scrape(stack.metrics["api"])
    async with stack.client("alpha") as admin:
        assert (await admin.get("/metrics")).status_code == 404
