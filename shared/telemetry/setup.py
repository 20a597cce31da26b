"""Telemetry a service turns on first thing, before it logs anything."""

from shared.settings import CommonSettings
from shared.telemetry.logs import configure_logging
from shared.telemetry.tracing import setup_tracing

__all__ = ["init_telemetry"]


def init_telemetry(service: str, settings: CommonSettings) -> None:
    """Structured logs (JSON off a terminal) and this process's tracer provider."""
    configure_logging(service, settings.log_level, settings.log_format)
    setup_tracing(service, settings.otlp_traces_endpoint)
