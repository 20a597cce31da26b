"""The job lifecycle (shared/schemas/lifecycle.py): events, numbers and allowed moves."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.schemas import (
    SEQ_PER_ATTEMPT,
    TERMINAL_STATES,
    InvalidMove,
    JobCommand,
    JobEvent,
    JobRef,
    JobStatus,
    JobTimeline,
    failed_named_job,
    is_terminal,
    parse_event,
    status_after,
)
from shared.schemas.lifecycle import MOVES, last_seq, seq_of

CREATED = datetime(2026, 1, 1, 12, tzinfo=UTC)


def command(attempt: int = 1) -> JobCommand:
    return JobCommand(
        job_id="job-1",
        tenant="acme",
        operation="ner.entities",
        input={"text": "x"},
        attempt=attempt,
        created_at=CREATED,
    )


def test_a_submitted_job_is_queued_at_step_zero_of_its_first_attempt_at_its_creation_time() -> None:
    queued = JobTimeline.new(command()).queued()
    assert (queued.type, queued.seq, queued.attempt) == ("queued", SEQ_PER_ATTEMPT, 1)
    assert queued.at == queued.job_created_at == CREATED
    assert (queued.job_id, queued.tenant, queued.operation) == ("job-1", "acme", "ner.entities")


def test_an_attempts_events_count_up_from_step_one_and_carry_the_job_envelope() -> None:
    timeline = JobTimeline(command())
    started, half = timeline.started(), timeline.progress(0.5, "half")
    clamped, succeeded = timeline.progress(2.0, "clamped"), timeline.succeeded({"n": 1})
    events: list[JobEvent] = [started, half, clamped, succeeded]
    assert [e.seq for e in events] == [
        SEQ_PER_ATTEMPT + 1,
        SEQ_PER_ATTEMPT + 2,
        SEQ_PER_ATTEMPT + 3,
        SEQ_PER_ATTEMPT + 4,
    ]
    assert [e.type for e in events] == ["started", "progress", "progress", "succeeded"]
    assert clamped.fraction == 1.0
    assert all(e.job_created_at == CREATED and e.attempt == 1 for e in events)
    # what a writer makes is what a reader parses back
    assert parse_event(succeeded.model_dump_json()) == succeeded


def test_a_retry_numbers_after_every_event_of_the_previous_attempt() -> None:
    first = JobTimeline(command(1))
    first.started()
    retrying = first.retrying(CREATED + timedelta(seconds=5), "provider_unavailable", "503")
    second = JobTimeline(command(2))
    assert second.state == "retrying"
    started = second.started()
    assert started.seq == 2 * SEQ_PER_ATTEMPT + 1 > retrying.seq
    assert retrying.error.code == "provider_unavailable"


def test_a_redelivered_attempt_repeats_its_numbers() -> None:
    assert JobTimeline(command(3)).started().seq == JobTimeline(command(3)).started().seq == seq_of(3, 1)


def test_a_dead_lettered_command_fails_at_the_last_number_of_its_attempt() -> None:
    timeline = JobTimeline(command(2))
    failed = timeline.dead_lettered("dead_lettered", "delivery limit")
    assert failed.seq == last_seq(2) == 3 * SEQ_PER_ATTEMPT - 1
    assert failed.error.code == "dead_lettered"
    assert failed.job_created_at == CREATED
    assert timeline.state == "failed"


def test_cancelling_a_waiting_job_numbers_after_its_last_event() -> None:
    ref = JobRef("job-1", "acme", "ner.entities", attempt=1, created_at=CREATED)
    cancelled = JobTimeline(ref, since="queued", after_seq=SEQ_PER_ATTEMPT).cancelled()
    assert (cancelled.type, cancelled.seq, cancelled.tenant) == ("cancelled", SEQ_PER_ATTEMPT + 1, "acme")


@pytest.mark.parametrize(
    ("since", "event"),
    [
        (None, "started"),  # nothing before queued
        ("queued", "progress"),  # progress only while running
        ("queued", "succeeded"),
        ("queued", "queued"),
        ("retrying", "progress"),
        ("succeeded", "progress"),  # terminal states absorb
        ("failed", "cancelled"),
        ("cancelled", "started"),
    ],
)
def test_moves_the_lifecycle_does_not_allow_are_refused(since: str | None, event: str) -> None:
    timeline = JobTimeline(command(), since=since)
    makers: dict[str, Callable[[], object]] = {
        "started": timeline.started,
        "progress": lambda: timeline.progress(0.1),
        "succeeded": lambda: timeline.succeeded({}),
        "queued": timeline.queued,
        "cancelled": timeline.cancelled,
    }
    with pytest.raises(InvalidMove):
        makers[event]()


def test_a_short_attempt_ends_straight_from_queued_or_retrying_with_its_start() -> None:
    began = datetime.now(UTC)
    for since in ("queued", "retrying"):
        done = JobTimeline(command(), since=since).succeeded({}, started_at=began)
        assert (done.type, done.started_at) == ("succeeded", began)
        assert JobTimeline(command(), since=since).failed("x", "y", started_at=began).started_at == began
        with pytest.raises(InvalidMove):  # without its start it would claim a run nobody saw begin
            JobTimeline(command(), since=since).succeeded({})


def test_a_job_that_has_not_started_may_still_fail_or_be_cancelled() -> None:
    for since in ("queued", "retrying"):
        assert JobTimeline(command(), since=since).failed("x", "y").type == "failed"
        assert JobTimeline(command(), since=since).cancelled().type == "cancelled"


def test_terminal_is_one_definition_for_statuses_and_event_types() -> None:
    assert {s for s in JobStatus if s.terminal} == TERMINAL_STATES
    assert {t for t, following in MOVES.items() if t is not None and not following} == TERMINAL_STATES
    assert all(is_terminal(t) == status_after(t).terminal for t in MOVES if t is not None)
    assert status_after("retrying") == JobStatus.queued
    assert status_after("progress") == JobStatus.running


def test_a_rejected_message_fails_the_job_it_names_before_any_event_of_its_attempt() -> None:
    failed = failed_named_job(
        {"job_id": "j", "tenant": "t", "attempt": 2}, "ocr.pdf", "invalid_input", "input.x: bad"
    )
    assert failed is not None
    assert (failed.seq, failed.operation, failed.attempt) == (seq_of(2, 0), "ocr.pdf", 2)
    assert (failed.error.code, failed.error.message) == ("invalid_input", "input.x: bad")
    defaulted = failed_named_job({"job_id": "j", "tenant": "t", "attempt": -4}, "", "c", "r")
    assert defaulted is not None
    assert (defaulted.attempt, defaulted.operation) == (1, "unknown")


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"job_id": "j"},
        {"job_id": "", "tenant": "t"},
        {"job_id": 5, "tenant": "t"},
        {"job_id": "j" * 65, "tenant": "t"},
    ],
)
def test_a_message_naming_no_usable_job_fails_nothing(raw: dict[str, object]) -> None:
    assert failed_named_job(raw, "ner.entities", "invalid_envelope", "bad") is None
