"""Broker names and queue arguments: the one place publishers and consumers agree on.

Every service declares what it uses from these constants at start (declaring is
idempotent), so the topology exists whichever service starts first, and a name or
argument cannot drift between a publisher and its consumer.
"""

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_WATCH_QUEUE",
    "DELAY_EXCHANGE",
    "DELAY_LEVELS",
    "DELIVERY_LIMIT",
    "EVENTS_EXCHANGE",
    "HISTORY_STREAM",
    "JOBS_EXCHANGE",
    "JOB_QUEUES",
    "LLM_QUEUE",
    "NER_QUEUE",
    "OCR_QUEUE",
    "PIPELINE_QUEUE",
    "QUEUES",
    "QUORUM_INITIAL_GROUP_SIZE",
    "RAG_QUEUE",
    "RAG_SEARCH_QUEUE",
    "RAG_SEARCH_TTL_MS",
    "QueueSpec",
    "StreamSpec",
    "delay_level_for",
    "delay_queue",
    "event_routing_key",
]

JOBS_EXCHANGE = "jobs"
"""Topic exchange for job commands; routing key is the operation, `<domain>.<name>`."""

EVENTS_EXCHANGE = "job-events"
"""Topic exchange for job events; routing key is `<operation>.<event type>`."""

DEAD_LETTER_EXCHANGE = "jobs.dlx"
"""Direct exchange for dead letters; routing key is the source queue's name."""

DELAY_EXCHANGE = "jobs.delay"
"""Headers exchange in front of the delay queues: header `delay-level` picks the queue (RabbitMQ ignores
binding arguments that start with `x-` when matching headers).
A delayed message keeps its routing key (the operation), and when its per-message TTL
runs out its queue dead-letters it to `jobs` with that key: a retry without any sleep
in a consumer."""

DELAY_LEVELS: tuple[float, ...] = (0.0, 1.0, 5.0, 30.0, 60.0, 120.0, 600.0)
"""Seconds of delay of each level. Messages of one level have similar TTLs, so the
head-of-line blocking of per-message TTL stays within one level's jitter. Level 0 hands
a message back to its queue at once as a new message (its delivery count starts over)."""

DELIVERY_LIMIT = 5
"""Deliveries of one message before the broker dead-letters it (stops crash loops).
Every return counts (a crash, a nack with requeue, a closed channel); workers give up
on a message one delivery earlier, to fail its job with a reason."""

QUORUM_INITIAL_GROUP_SIZE = 3
"""Replicas of every quorum queue (its Raft members): a majority (2 of 3) keeps a queue and
its messages alive when one broker node dies. RabbitMQ caps it to the cluster's nodes (1 on
a single node). Not a setting: the broker refuses a redeclare with another value
(`PRECONDITION_FAILED - inequivalent arg`), so every declaring service must send the same."""

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
            "x-quorum-initial-group-size": QUORUM_INITIAL_GROUP_SIZE,
            **self.extra_arguments,
        }

    @property
    def dead_letter_arguments(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum", "x-quorum-initial-group-size": QUORUM_INITIAL_GROUP_SIZE}


NER_QUEUE = QueueSpec(
    name="ner.jobs",
    exchange=JOBS_EXCHANGE,
    binding_keys=("ner.*",),
    description="Named-entity recognition jobs, consumed by services/ner.",
)

LLM_QUEUE = QueueSpec(
    name="llm.jobs",
    exchange=JOBS_EXCHANGE,
    binding_keys=("llm.*",),
    description="LLM orchestration jobs (summarize, extract), consumed by services/llm.",
)

OCR_QUEUE = QueueSpec(
    name="ocr.jobs",
    exchange=JOBS_EXCHANGE,
    binding_keys=("ocr.*",),
    description="OCR jobs (images and PDFs), consumed by services/ocr.",
)

PIPELINE_QUEUE = QueueSpec(
    name="pipeline.jobs",
    exchange=JOBS_EXCHANGE,
    binding_keys=("pipeline",),
    description="Pipelines (operation `pipeline`), driven by services/pipeline: it starts each step "
    "as a job of its own and follows the steps' events in the job history.",
)

RAG_QUEUE = QueueSpec(
    name="rag.jobs",
    exchange=JOBS_EXCHANGE,
    binding_keys=("rag.*",),
    description="Document collections: indexing PDFs and answering questions, consumed by services/rag.",
)

RAG_SEARCH_QUEUE = "rag.search"
"""RPC requests (`SearchCall`, answered with `SearchReply` to the caller's `reply_to`, e.g.
`amq.rabbitmq.reply-to`), published on the default exchange. Declared by services/rag only,
classic and non-durable with a message TTL: a search nobody answers in time is dropped, never
replayed after a restart (its caller has long given up)."""

RAG_SEARCH_TTL_MS = 10_000

JOB_QUEUES: tuple[QueueSpec, ...] = (NER_QUEUE, OCR_QUEUE, LLM_QUEUE, PIPELINE_QUEUE, RAG_QUEUE)

DEAD_LETTER_WATCH_QUEUE = QueueSpec(
    name="projector.dead-letters",
    exchange=DEAD_LETTER_EXCHANGE,
    binding_keys=tuple(q.name for q in JOB_QUEUES),
    description="A copy of every dead-lettered job command, for services/projector: a job whose "
    "message the broker dead-lettered on its own (delivery limit, a consumer's reject) ends "
    "`failed` with code `dead_lettered`. Each `<queue>.dlq` keeps its own copy for operators.",
)

QUEUES: tuple[QueueSpec, ...] = (*JOB_QUEUES, DEAD_LETTER_WATCH_QUEUE)
"""Every queue of the platform; all of them are declared by every service at start."""


@dataclass(frozen=True)
class StreamSpec:
    """A durable RabbitMQ stream (an append-only log read from any offset, never emptied by
    consumers). Retention (`max_age`, `max_bytes`) comes from the operator's settings
    (shared/history.py); a stream's arguments cannot change after it is declared, so
    retention of an existing stream is changed with a policy (docs/operations.md)."""

    name: str
    bindings: tuple[tuple[str, str], ...]
    """(exchange, routing key) pairs."""
    readers: tuple[str, ...]
    """Services that consume the stream (their broker users get read on it)."""
    description: str = ""
    initial_cluster_size: int = 3
    """Replicas on a cluster; RabbitMQ caps it at the number of nodes."""
    max_segment_bytes: int = 100_000_000
    """Retention deletes whole segments: smaller ones keep the size cap closer."""

    def arguments(self, *, max_age: str, max_bytes: int) -> dict[str, Any]:
        return {
            "x-queue-type": "stream",
            "x-max-age": max_age,
            "x-max-length-bytes": max_bytes,
            "x-stream-max-segment-size-bytes": self.max_segment_bytes,
            "x-initial-cluster-size": self.initial_cluster_size,
        }


HISTORY_STREAM = StreamSpec(
    name="jobs.history",
    bindings=(
        *((JOBS_EXCHANGE, key) for q in JOB_QUEUES for key in q.binding_keys),
        (EVENTS_EXCHANGE, "#"),
    ),
    readers=("projector", "pipeline"),
    description="The job history: every job command (with its `queued` time, direct publishers'"
    " included) and every job event, in order per job, kept by age and size. services/projector"
    " folds it into the Redis read model and replays it from the first offset when Redis has lost"
    " the read model; services/pipeline follows its pipelines' steps in it. Read it with"
    " `x-stream-offset` (a consumer argument), a prefetch and acks."
    " Bound to the job queues' keys only, so a command no queue takes still comes back unroutable.",
)


def delay_queue(level: int) -> str:
    return f"{DELAY_EXCHANGE}.{level}"


def delay_level_for(seconds: float) -> int:
    """The lowest level whose delay is at least `seconds` (the last level caps it)."""
    for level, delay in enumerate(DELAY_LEVELS):
        if delay >= seconds:
            return level
    return len(DELAY_LEVELS) - 1


def event_routing_key(operation: str, event_type: str) -> str:
    return f"{operation}.{event_type}"
