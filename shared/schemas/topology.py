"""Broker names and queue arguments: the one place publishers and consumers agree on.

Every service declares what it uses from these constants at start (declaring is
idempotent), so the topology exists whichever service starts first, and a name or
argument cannot drift between a publisher and its consumer.
"""

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "EVENTS_EXCHANGE",
    "JOBS_EXCHANGE",
    "NER_QUEUE",
    "OCR_QUEUE",
    "PROJECTOR_QUEUE",
    "QUEUES",
    "QueueSpec",
    "event_routing_key",
]

JOBS_EXCHANGE = "jobs"
"""Topic exchange for job commands; routing key is the operation, `<domain>.<name>`."""

EVENTS_EXCHANGE = "job-events"
"""Topic exchange for job events; routing key is `<operation>.<event type>`."""

DEAD_LETTER_EXCHANGE = "jobs.dlx"
"""Direct exchange for dead letters; routing key is the source queue's name."""

DELIVERY_LIMIT = 5
"""Deliveries of one message before the broker dead-letters it (stops crash loops)."""

MAX_QUEUE_LENGTH = 1_000_000
"""Messages a job queue holds before publishers get a nack (the API answers 503)."""


@dataclass(frozen=True)
class QueueSpec:
    """A durable quorum queue with its own dead-letter queue."""

    name: str
    exchange: str
    binding_keys: tuple[str, ...]
    delivery_limit: int = DELIVERY_LIMIT
    max_length: int = MAX_QUEUE_LENGTH
    description: str = ""
    extra_arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"

    @property
    def arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
            # Broker dead-lettering is confirmed only with at-least-once, which in
            # turn needs reject-publish overflow.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            "x-max-length": self.max_length,
            **self.extra_arguments,
        }

    @property
    def dead_letter_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum"}


NER_QUEUE = QueueSpec(
    name="ner.jobs",
    exchange=JOBS_EXCHANGE,
    binding_keys=("ner.*",),
    description="Named-entity recognition jobs, consumed by services/ner.",
)

OCR_QUEUE = QueueSpec(
    name="ocr.jobs",
    exchange=JOBS_EXCHANGE,
    binding_keys=("ocr.*",),
    description="OCR jobs (images and PDFs), consumed by services/ocr.",
)

PROJECTOR_QUEUE = QueueSpec(
    name="projector.events",
    exchange=EVENTS_EXCHANGE,
    binding_keys=("#",),
    # The projector holds a delivery (does not ack) while Redis is unreachable, so
    # redeliveries after a restart are expected and must not dead-letter events.
    delivery_limit=50,
    description="Every job event, folded into the Redis read model by services/projector.",
)

QUEUES: tuple[QueueSpec, ...] = (NER_QUEUE, OCR_QUEUE, PROJECTOR_QUEUE)
"""Every queue of the platform; all of them are declared by every service at start."""


def event_routing_key(operation: str, event_type: str) -> str:
    return f"{operation}.{event_type}"
