"""Policy: how a job's attempt ended (the outcome) decides what the runner does next
(the action). Pure: randomness comes in as `jitter`, so every rule is a unit test."""

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from shared.worker.config import OperationConfig, RunnerConfig
from shared.worker.errors import JobFailure, TransientError

__all__ = [
    "Action",
    "Cancel",
    "Crashed",
    "Fail",
    "FailAndDeadLetter",
    "HandBack",
    "Outcome",
    "Retry",
    "Succeed",
    "decide",
    "retry_delay",
]


@dataclass(frozen=True)
class Crashed:
    """The handler raised something unexpected; `reference` finds its traceback in the log."""

    reference: str


Outcome = BaseModel | JobFailure | TimeoutError | Crashed | Literal["cancelled", "handed_back"]
"""The handler's result, the `JobFailure` it raised, its time limit, a crash, or the runner
stopping it (a cancel request; shutdown handing the job back)."""


@dataclass(frozen=True)
class Succeed:
    result: BaseModel


@dataclass(frozen=True)
class Fail:
    code: str
    message: str


class FailAndDeadLetter(Fail):
    """Fail the job and park a copy of its command, for someone to look at."""


@dataclass(frozen=True)
class Retry(Fail):
    """Publish `retrying`, and the next attempt due in `delay` seconds."""

    delay: float


@dataclass(frozen=True)
class Cancel:
    """Publish `cancelled`."""


@dataclass(frozen=True)
class HandBack:
    """Give the job to another worker and publish nothing (shutdown)."""


Action = Succeed | Fail | Cancel | HandBack
"""`Fail` includes its kinds `FailAndDeadLetter` and `Retry`."""


def retry_delay(attempt: int, config: RunnerConfig, jitter: float) -> float:
    """Seconds before attempt `attempt + 1`: doubling from the base delay up to the cap,
    then scaled by 0.5..1.0 (`jitter` in 0..1) so that retries of many jobs spread out."""
    cap = min(config.retry_max_delay, config.retry_base_delay * 2.0 ** (attempt - 1))
    return cap * (0.5 + 0.5 * jitter)


def decide(
    outcome: Outcome, attempt: int, operation: OperationConfig, config: RunnerConfig, jitter: float
) -> Action:
    match outcome:
        case BaseModel():
            return Succeed(outcome)
        case TimeoutError():
            return Fail("timeout", f"the job ran over its time limit of {operation.time_limit:g} s")
        case "cancelled":
            return Cancel()
        case "handed_back":
            return HandBack()
        case TransientError() if attempt >= operation.max_attempts:
            return FailAndDeadLetter(outcome.code, f"{outcome.message} (gave up after {attempt} attempts)")
        case TransientError():
            return Retry(outcome.code, outcome.message, retry_delay(attempt, config, jitter))
        case JobFailure():
            return Fail(outcome.code, outcome.message)
        case Crashed(reference):
            # Security review L2: the tenant sees a reference, the log has the traceback.
            return FailAndDeadLetter("internal_error", f"internal error (trace {reference})")
