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
    "Finished",
    "HandBack",
    "Outcome",
    "Raised",
    "Retry",
    "Stopped",
    "Succeed",
    "TimedOut",
    "decide",
    "retry_delay",
]


@dataclass(frozen=True)
class Finished:
    result: BaseModel


@dataclass(frozen=True)
class Raised:
    """The handler raised a `JobFailure` (a `TransientError` is one)."""

    error: JobFailure


@dataclass(frozen=True)
class Crashed:
    """The handler raised anything else; `reference` finds the traceback in the log."""

    reference: str


@dataclass(frozen=True)
class TimedOut:
    limit: float


@dataclass(frozen=True)
class Stopped:
    """The runner stopped the handler: a cancel request, or shutdown handing the job back."""

    why: Literal["cancel", "hand_back"]


Outcome = Finished | Raised | Crashed | TimedOut | Stopped


@dataclass(frozen=True)
class Succeed:
    result: BaseModel


@dataclass(frozen=True)
class Fail:
    code: str
    message: str


@dataclass(frozen=True)
class FailAndDeadLetter:
    """Fail the job and park a copy of its command, for someone to look at."""

    code: str
    message: str


@dataclass(frozen=True)
class Retry:
    delay: float
    """Seconds until the next attempt reaches the queue."""
    code: str
    message: str


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class HandBack:
    """Give the job to another worker; it publishes nothing (shutdown)."""


Action = Succeed | Fail | FailAndDeadLetter | Retry | Cancel | HandBack


def retry_delay(attempt: int, config: RunnerConfig, jitter: float) -> float:
    """Seconds before attempt `attempt + 1`: doubling from the base delay up to the cap,
    then scaled by 0.5..1.0 (`jitter` in 0..1) so that retries of many jobs spread out."""
    cap = min(config.retry_max_delay, config.retry_base_delay * 2.0 ** (attempt - 1))
    return cap * (0.5 + 0.5 * jitter)


def decide(
    outcome: Outcome, attempt: int, operation: OperationConfig, config: RunnerConfig, jitter: float
) -> Action:
    match outcome:
        case Finished(result):
            return Succeed(result)
        case TimedOut(limit):
            return Fail("timeout", f"the job ran over its time limit of {limit:g} s")
        case Stopped("cancel"):
            return Cancel()
        case Stopped(_):
            return HandBack()
        case Raised(TransientError() as error) if attempt >= operation.max_attempts:
            return FailAndDeadLetter(error.code, f"{error.message} (gave up after {attempt} attempts)")
        case Raised(TransientError() as error):
            return Retry(retry_delay(attempt, config, jitter), error.code, error.message)
        case Raised(error):
            return Fail(error.code, error.message)
        case Crashed(reference):
            # Security review L2: the tenant sees a reference, the log has the traceback.
            return FailAndDeadLetter("internal_error", f"internal error (trace {reference})")
