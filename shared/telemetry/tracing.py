"""OpenTelemetry traces across the job path, with W3C `traceparent` in AMQP headers.

Every process has a tracer provider (so log lines carry trace ids); spans are exported
over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-only variant) is
set. Publishing injects the current context into the message headers; consuming
continues the trace found there. One job is then one trace: the HTTP request, the
publish, the worker's handling with one span per stage, the events it publishes and the
projector applying them.
"""

import uuid
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, Protocol

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span, SpanKind

__all__ = [
    "consuming",
    "current_trace_id",
    "error_reference",
    "inject_context",
    "publishing",
    "setup_tracing",
    "stage",
    "tracer",
]

tracer = trace.get_tracer("jobs-platform")


def setup_tracing(service: str, traces_endpoint: str | None) -> None:
    """Install this process's tracer provider; export only to an OTLP/HTTP traces endpoint
    (a URL ending in `/v1/traces`, see `CommonSettings.otlp_traces_endpoint`)."""
    resource = Resource.create({"service.name": service})
    if traces_endpoint:
        # Imported here: without an endpoint the exporter is never loaded.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_endpoint)))
    else:
        # Nothing would read the spans: don't record them (a recorded span cost about 3x
        # an unrecorded one in the profile). Spans still carry ids, so log lines keep their
        # trace ids and `traceparent` still travels with every message.
        provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    trace.set_tracer_provider(provider)


def current_trace_id() -> str:
    """The active span's trace id (W3C hex, as in the log lines), or `-` outside any span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else "-"


class _HeaderGetter(Getter[Mapping[str, Any]]):
    """AMQP header values may arrive as bytes."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            return None
        return [value.decode() if isinstance(value, bytes) else str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


_getter = _HeaderGetter()


def inject_context(headers: MutableMapping[str, Any]) -> None:
    """Write the current trace context (`traceparent`, `tracestate`) into `headers`."""
    propagate.inject(headers)


@contextmanager
def publishing(exchange: str, routing_key: str) -> Iterator[Span]:
    with tracer.start_as_current_span(
        f"{exchange} publish",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "publish",
            "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": routing_key,
        },
    ) as span:
        yield span


class Received(Protocol):
    """What a span of handling a message needs from it (an aio-pika message, a `Delivery`)."""

    @property
    def headers(self) -> Mapping[str, Any] | None: ...
    @property
    def routing_key(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...


def error_reference() -> str:
    """What a tenant may see of an unexpected error: the current trace id (the log lines
    of the error carry it), or a fresh reference when there is no trace."""
    trace_id = current_trace_id()
    return trace_id if trace_id != "-" else uuid.uuid4().hex


@contextmanager
def consuming(message: Received, queue: str) -> Iterator[Span]:
    """A span for handling one delivery, continuing the trace in its headers."""
    parent = propagate.extract(message.headers or {}, getter=_getter)
    with tracer.start_as_current_span(
        f"{queue} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "process",
            "messaging.destination.name": queue,
            "messaging.rabbitmq.destination.routing_key": message.routing_key or "",
            "messaging.message.id": message.message_id or "",
        },
    ) as span:
        yield span


@contextmanager
def stage(name: str, **attributes: str | int | float | bool) -> Iterator[Span]:
    """One stage of a job (a chunk, a page, a model call): a child of the current span."""
    with tracer.start_as_current_span(name, attributes=attributes) as span:
        yield span
