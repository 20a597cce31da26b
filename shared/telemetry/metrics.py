"""Prometheus metrics of every service, recorded where jobs change state.

Job state changes are counted from their events, once each, by the one recorder
(shared/telemetry/recorder.py) that every writer's events pass through; the API also
counts open streams. Labels stay bounded: operations, outcomes and error
codes are fixed sets; job ids are never labels. Tenants label only the per-tenant limit
metrics: they are the configured tenants (API keys, broker tenant users), a bounded set.
"""

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.schemas import JobEvent

__all__ = [
    "DEAD_LETTERS",
    "PROJECTED",
    "PUBLISH_FAILURES",
    "STREAMS_OPEN",
    "TENANT_LIMITED",
    "TENANT_LLM_TOKENS",
    "observe_job_event",
    "register_in_flight",
    "serve_metrics",
]

log = logging.getLogger(__name__)

# Seconds. Jobs run from well under a second (NER of a sentence) to hours (a 300-page scan).
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
_WAIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

SUBMITTED = Counter("jobs_submitted", "Jobs accepted by the API (202, new job).", ["operation"])
STARTED = Counter("jobs_started", "Attempts started by a worker.", ["operation"])
FINISHED = Counter(
    "jobs_finished",
    "Jobs ended, by outcome (succeeded, failed, cancelled), counted by whichever service ended"
    " them: a worker, or the API for a cancel while queued.",
    ["operation", "outcome"],
)
FAILURES = Counter("jobs_failures", "Failed jobs by error code.", ["operation", "code"])
RETRIES = Counter(
    "jobs_retries", "Attempts that ended in a transient error and were rescheduled.", ["operation", "code"]
)
DEAD_LETTERS = Counter("jobs_dead_lettered", "Messages parked in a dead-letter queue.", ["queue", "code"])
PUBLISH_FAILURES = Counter(
    "jobs_publish_failures", "Publishes the broker did not confirm (the API answered 503).", ["reason"]
)
DURATION = Histogram(
    "job_duration_seconds",
    "Seconds from an attempt's start to its end, as seen by the worker that ran it.",
    ["operation", "outcome"],
    buckets=_DURATION_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "job_queue_wait_seconds",
    "Seconds from a job's submission to the start of its first attempt.",
    ["operation"],
    buckets=_WAIT_BUCKETS,
)
PROJECTED = Counter(
    "projector_events",
    "Job events the projector handled: applied, stale (duplicate or out of date), refused (another"
    " tenant's job), invalid, forged (from a broker user that may not publish it).",
    ["outcome"],
)
TENANT_LIMITED = Counter(
    "tenant_limited",
    "Requests or jobs refused because a tenant reached one of its limits (submit_rate, "
    "active_jobs, streams, storage_bytes, llm_daily_tokens).",
    ["tenant", "limit"],
)
TENANT_LLM_TOKENS = Counter(
    "tenant_llm_tokens", "LLM tokens (prompt and completion) a tenant's jobs used.", ["tenant"]
)
STREAMS_OPEN = Gauge("api_streams_open", "Live event streams open on this API process.", ["transport"])

# (job id, attempt) -> monotonic start, for attempts started by this process. An attempt
# handed back on shutdown never ends here; the bound keeps such leftovers from piling up.
_started: dict[tuple[str, int], float] = {}
_MAX_TRACKED = 100_000


def _observe_start(event: JobEvent, at: datetime) -> None:
    STARTED.labels(event.operation).inc()
    if len(_started) >= _MAX_TRACKED:
        _started.clear()
    if event.attempt == 1 and event.job_created_at is not None:
        wait = (at - event.job_created_at).total_seconds()
        QUEUE_WAIT.labels(event.operation).observe(max(wait, 0.0))


def observe_job_event(event: JobEvent) -> None:
    """Count one published (or, in the API, recorded) job event."""
    if event.type == "queued":
        SUBMITTED.labels(event.operation).inc()
        return
    if event.type == "started":
        _observe_start(event, event.at)
        _started[(event.job_id, event.attempt)] = time.monotonic()
        return
    started_at = getattr(event, "started_at", None)
    if started_at is not None:  # a terminal event that stands for its attempt's `started` too
        _observe_start(event, started_at)
        ran = (event.at - started_at).total_seconds()
        DURATION.labels(event.operation, event.type).observe(max(ran, 0.0))
    if event.type == "progress":
        return
    if event.type == "retrying":
        RETRIES.labels(event.operation, event.error.code).inc()
    else:
        FINISHED.labels(event.operation, event.type).inc()
        if event.type == "failed":
            FAILURES.labels(event.operation, event.error.code).inc()
    began = _started.pop((event.job_id, event.attempt), None)
    if began is not None:
        DURATION.labels(event.operation, event.type).observe(time.monotonic() - began)


class _InFlight(Collector):
    def __init__(self, queue: str, count: Callable[[], int]) -> None:
        self._queue = queue
        self._count = count

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("jobs_in_flight", "Jobs running in this worker process.", labels=["queue"])
        family.add_metric([self._queue], self._count())
        yield family


def register_in_flight(queue: str, count: Callable[[], int]) -> None:
    """Expose `count()` (a worker's running jobs) as `jobs_in_flight{queue=...}`."""
    REGISTRY.register(_InFlight(queue, count))


def serve_metrics(host: str, port: int) -> None:
    """Serve /metrics on a small HTTP listener (a thread); port 0 disables it.

    A port already taken is logged, not fatal: a worker without metrics still runs jobs."""
    if port == 0:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error("cannot serve metrics on %s:%d (%s); running without /metrics", host, port, exc)
        return
    log.info("metrics on http://%s:%d/metrics", host, port)
