"""Answers for failures the caller cannot fix: what to do, and a trace id to quote.

Exception texts carry endpoints, file paths and library internals: they go to the log
line (which carries the same trace id), never into a response body."""

import logging

from fastapi import HTTPException, status

from shared.telemetry.tracing import current_trace_id

__all__ = ["unavailable"]

log = logging.getLogger(__name__)


def unavailable(what: str, exc: BaseException, reason: str = "") -> HTTPException:
    """A 503 for `what` ("file storage", ...); the cause is logged under the request's trace."""
    trace = current_trace_id()
    log.warning("%s unavailable: %s: %s", what, type(exc).__name__, exc)
    because = f"{reason}; " if reason else ""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"{what} unavailable, try again later ({because}trace {trace})",
        headers={"Retry-After": "5"},
    )
