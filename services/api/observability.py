"""A span and request metrics per HTTP request (pure ASGI, so streams are not buffered)."""

import time

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.telemetry.tracing import tracer

__all__ = ["RequestTelemetry"]

REQUESTS = Counter(
    "http_requests", "HTTP requests answered, by route template.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Seconds until the response started (a stream's length is not its latency).",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Probes and scrapes would drown the traces of real work.
_UNTRACED = frozenset({"/metrics", "/healthz", "/readyz"})


class RequestTelemetry:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        began = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                LATENCY.labels(method, _route(scope)).observe(time.perf_counter() - began)
            await send(message)

        if path in _UNTRACED:
            try:
                await self.app(scope, receive, send_observed)
            finally:
                REQUESTS.labels(method, _route(scope), str(status)).inc()
            return
        # The caller's `traceparent`, if any, makes this request part of its trace.
        with tracer.start_as_current_span(
            f"{method} {path}", context=propagate.extract(headers), kind=SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, send_observed)
            finally:
                route = _route(scope)
                REQUESTS.labels(method, route, str(status)).inc()
                span.update_name(f"{method} {route}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


def _route(scope: Scope) -> str:
    """The matched route's template (`/v1/jobs/{job_id}`), never the raw path: bounded labels."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")
