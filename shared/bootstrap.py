"""A worker service's JobRunner on the real infrastructure, built from its settings: the
part every worker shares (framework-free; the Propan wiring is services/propan_wiring.py)."""

from collections.abc import Mapping
from dataclasses import dataclass

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from redis.asyncio import Redis

from shared.control import JobControl
from shared.messaging import Publisher, stop_consuming
from shared.results import ResultStore
from shared.schemas.topology import QueueSpec
from shared.settings import WorkerSettings
from shared.telemetry.metrics import register_in_flight, serve_metrics
from shared.worker import JobRunner, OperationConfig, OperationHandler
from shared.worker.adapters import AmqpDelivery, PublisherBus, RedisControl, StoredResults

__all__ = ["RunningWorker", "start_runner"]


async def start_runner(
    name: str,
    queue: QueueSpec,
    settings: WorkerSettings,
    redis: Redis,
    handlers: Mapping[str, OperationHandler],
    results: ResultStore | None = None,
) -> "RunningWorker":
    """Connect the publisher, build the runner with the service's limits, start polling for
    cancellations, and serve /metrics."""
    publisher = await Publisher.connect(
        settings.amqp_url, name=name, publish_timeout=settings.publish_timeout
    )
    operations = {
        operation: OperationConfig(
            handler, time_limit=settings.time_limit, max_attempts=settings.max_attempts
        )
        for operation, handler in handlers.items()
    }
    bus = PublisherBus(publisher)
    runner = JobRunner(
        queue.name,
        bus,
        bus,
        RedisControl(JobControl(redis)),
        operations,
        settings.runner_config(),
        settings.identities(),
        results=StoredResults(results) if results is not None else None,
    )
    runner.start()
    register_in_flight(queue.name, lambda: runner.running)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    return RunningWorker(queue, runner, publisher)


@dataclass(frozen=True)
class RunningWorker:
    """A started runner and the publisher it settles deliveries through."""

    queue: QueueSpec
    runner: JobRunner
    publisher: Publisher
    """Closed at shutdown, after the runner has drained."""

    async def handle(self, message: AbstractIncomingMessage) -> None:
        await self.runner.handle(AmqpDelivery(message, self.publisher, self.queue))

    async def stop(self, channel: AbstractChannel, grace: float) -> None:
        """SIGTERM: stop taking deliveries, then let running jobs finish or hand them back."""
        await stop_consuming(channel)
        await self.runner.drain(grace)
