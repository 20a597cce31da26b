"""Policy: how an attempt's outcome decides the runner's next step (pure)."""

import pytest

from shared.schemas import NerResult
from shared.worker import JobFailure, OperationConfig, RunnerConfig, TransientError
from shared.worker.policy import (
    Cancel,
    Crashed,
    Fail,
    FailAndDeadLetter,
    HandBack,
    Outcome,
    Retry,
    Succeed,
    decide,
    retry_delay,
)


async def _never(job: object, ctx: object) -> NerResult:
    raise AssertionError("not called")


OPERATION = OperationConfig(_never, time_limit=10, max_attempts=3)
CONFIG = RunnerConfig(
    retry_base_delay=2.0, retry_max_delay=10.0, cancel_poll_interval=0.5, lease_after=600, lease_ttl=60
)
RESULT = NerResult(entities=[], model="m")


@pytest.mark.parametrize(
    ("outcome", "action"),
    [
        (RESULT, Succeed(RESULT)),
        (TimeoutError(), Fail("timeout", "the job ran over its time limit of 10 s")),
        ("cancelled", Cancel()),
        ("handed_back", HandBack()),
        (JobFailure("bad_pdf", "not a PDF"), Fail("bad_pdf", "not a PDF")),
        (Crashed("abc123"), FailAndDeadLetter("internal_error", "internal error (trace abc123)")),
    ],
)
def test_each_outcome_has_one_action(outcome: Outcome, action: object) -> None:
    decided = decide(outcome, 1, OPERATION, CONFIG, jitter=0.5)
    assert (type(decided), decided) == (type(action), action)


def test_a_transient_error_is_retried_until_the_last_attempt() -> None:
    error = TransientError("provider_unavailable", "503")
    assert decide(error, 2, OPERATION, CONFIG, jitter=1.0) == Retry("provider_unavailable", "503", 4.0)
    last = decide(error, 3, OPERATION, CONFIG, jitter=1.0)
    assert isinstance(last, FailAndDeadLetter)
    assert last == FailAndDeadLetter("provider_unavailable", "503 (gave up after 3 attempts)")


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [(1, 1.0, 2.0), (1, 0.0, 1.0), (2, 1.0, 4.0), (3, 0.5, 6.0), (4, 1.0, 10.0), (30, 0.0, 5.0)],
)
def test_retry_delays_double_up_to_the_cap_with_jitter(attempt: int, jitter: float, delay: float) -> None:
    assert retry_delay(attempt, CONFIG, jitter) == pytest.approx(delay)
