"""What the OCR unit tests share: one engine per test session, a file catalog in a
temporary directory, and a job context whose events are recorded instead of published."""

from datetime import UTC, datetime
from typing import Any

from shared.schemas import JobCommand, JobEvent
from shared.worker import JobContext


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    async def publish_event(self, event: JobEvent) -> None:
        self.events.append(event)


def job_context(
    tenant: str, operation: str, job_input: dict[str, Any]
) -> tuple[JobContext, RecordingPublisher]:
    publisher = RecordingPublisher()
    command = JobCommand(
        job_id="job-1", tenant=tenant, operation=operation, input=job_input, created_at=datetime.now(UTC)
    )
    return JobContext(command, publisher, since="started"), publisher
