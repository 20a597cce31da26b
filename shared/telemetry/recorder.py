"""The one recorder of job state changes: a metric update and a log line per event.

Every writer's events pass through here exactly once: `Publisher.publish_event` records
each event the broker confirmed (workers, the API, the projector), and the API records
an event it applied to the read model but could not publish.
"""

from shared.schemas import JobEvent
from shared.telemetry.logs import log_job_event
from shared.telemetry.metrics import observe_job_event

__all__ = ["record_job_event"]


def record_job_event(event: JobEvent) -> None:
    observe_job_event(event)
    log_job_event(event)
