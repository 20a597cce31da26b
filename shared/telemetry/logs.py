"""One logging setup for every service: JSON lines when stderr is not a terminal.

Every record carries the current trace id (and span id) when a span is active, so a log
line leads to its trace; job state changes are logged by `log_job_event`, one line each,
with the job's id, tenant, operation and attempt as fields.
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace

from shared.schemas import JobEvent

__all__ = ["JOB_FIELDS", "JsonFormatter", "RedactQueries", "configure_logging", "log_job_event"]

JOB_FIELDS = ("job_id", "tenant", "operation", "attempt", "event", "status", "error_code", "seq")
_CONTEXT_FIELDS = ("trace_id", "span_id", *JOB_FIELDS)

_events = logging.getLogger("jobs.events")

_STATUS = {
    "queued": "queued",
    "started": "running",
    "progress": "running",
    "retrying": "queued",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}


class _TraceContext(logging.Filter):
    """Adds `trace_id` and `span_id` of the active span (W3C hex) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")


class RedactQueries(logging.Filter):
    """Replaces the query string of every path or URL in a log line by `?<redacted>`.

    The whole query goes, not only known secrets (`access_token`): a parameter added later
    cannot leak, and queries carry tenants' data; the path, method and status stay, and
    they are what an operator reads an access log for. Covers uvicorn's access log and
    its WebSocket lines, HTTP clients' logs and any message that quotes a URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: logging reports it when formatting
            return True
        if "?" in message:
            redacted = _QUERY.sub(r"\1?<redacted>", message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _TextFormatter(logging.Formatter):
    """For a terminal: the usual line, then the context fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{name}={getattr(record, name)}"
            for name in _CONTEXT_FIELDS
            if getattr(record, name, None) is not None and name != "span_id"
        )
        text = super().format(record)
        return f"{text} [{fields}]" if fields else text


def configure_logging(
    service: str, level: str = "INFO", fmt: Literal["auto", "json", "text"] = "auto"
) -> None:
    """Replace the root logger's handlers with one stderr handler for this service."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if use_json else _TextFormatter())
    handler.addFilter(_TraceContext())
    handler.addFilter(RedactQueries())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Propan gives its loggers their own coloured handlers: route them through this one too.
    for name in ("propan", "propan.access"):
        framework = logging.getLogger(name)
        for old in list(framework.handlers):
            framework.removeHandler(old)
        framework.propagate = True


def log_job_event(event: JobEvent) -> None:
    """One line per state change (progress only at DEBUG: it is not a change of state)."""
    fields: dict[str, Any] = {
        "job_id": event.job_id,
        "tenant": event.tenant,
        "operation": event.operation,
        "attempt": event.attempt,
        "event": event.type,
        "status": _STATUS[event.type],
        "seq": event.seq,
    }
    message = f"job {event.job_id} {event.type}"
    if event.type in ("failed", "retrying"):
        fields["error_code"] = event.error.code
        message += f": {event.error.code}: {event.error.message}"
    elif event.type == "progress":
        message += f" {event.fraction:.0%} {event.message}".rstrip()
    _events.log(logging.DEBUG if event.type == "progress" else logging.INFO, message, extra=fields)
