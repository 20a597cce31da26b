"""How every worker service processes a job delivery, independent of the consumer framework.

- `intake`: bytes, headers and broker user → a job to run, or a rejection with a code;
- `policy`: how an attempt ended → ack, retry later, fail (and dead-letter), hand back;
- `lease`: jobs that outlive the broker's consumer timeout;
- `runner`: the loop over the ports (`ports`), with `adapters` for aio-pika and Redis.
"""

from shared.worker.config import OperationConfig, OperationHandler, RunnerConfig
from shared.worker.context import JobContext
from shared.worker.errors import JobFailure, TransientError, describe_errors
from shared.worker.runner import JobRunner

__all__ = [
    "JobContext",
    "JobFailure",
    "JobRunner",
    "OperationConfig",
    "OperationHandler",
    "RunnerConfig",
    "TransientError",
    "describe_errors",
]
