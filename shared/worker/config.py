"""What a worker service tells the runner: its operations and its timings.

The defaults and their documentation live once, in `shared.settings.WorkerSettings`;
`RunnerConfig` is what the runner is handed, built from those settings."""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from shared.worker.context import JobContext

__all__ = ["OperationConfig", "OperationHandler", "RunnerConfig"]

OperationHandler = Callable[[Any, "JobContext"], Coroutine[Any, Any, BaseModel]]
"""Domain entry point: (validated input model, context) -> result model."""


@dataclass(frozen=True)
class OperationConfig:
    handler: OperationHandler
    time_limit: float
    """Seconds one attempt may run before the job fails with `timeout`."""
    max_attempts: int
    """Attempts in all when the handler raises `TransientError`."""


@dataclass(frozen=True)
class RunnerConfig:
    """Seconds, all of them; see `WorkerSettings` for what each one means."""

    retry_base_delay: float
    retry_max_delay: float
    cancel_poll_interval: float
    lease_after: float
    lease_ttl: float
    started_event_after: float = 0.0
    """0: `started` is published as each attempt starts."""
