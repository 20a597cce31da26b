"""Starting a worker service's JobRunner from its settings: the part every worker's
`app.py` shares (framework-free; the Propan wiring stays in each app.py)."""

from collections.abc import Mapping

from aio_pika.abc import AbstractChannel
from redis.asyncio import Redis

from shared.control import JobControl
from shared.messaging import Publisher, stop_consuming
from shared.schemas.topology import QueueSpec
from shared.settings import WorkerSettings
from shared.telemetry.metrics import register_in_flight, serve_metrics
from shared.worker import JobRunner, OperationConfig, OperationHandler

__all__ = ["start_runner", "stop_runner"]


async def start_runner(
    name: str,
    queue: QueueSpec,
    settings: WorkerSettings,
    redis: Redis,
    handlers: Mapping[str, OperationHandler],
) -> JobRunner:
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
    runner = JobRunner(queue, publisher, JobControl(redis), operations, settings.runner_config())
    runner.start()
    register_in_flight(queue.name, lambda: runner.running)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    return runner


async def stop_runner(runner: JobRunner, channel: AbstractChannel, grace: float) -> None:
    """SIGTERM: stop taking deliveries, then let running jobs finish or hand them back."""
    await stop_consuming(channel)
    await runner.drain(grace)
