"""Pipelines without I/O: validation at submission (each refusal names its step), the state fold
over the steps' events, weighted progress, what starts next, and the driver over a port in memory."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.pipeline.driver import PipelineDriver
from services.pipeline.plan import STEP_WEIGHTS, PipelinePlan
from shared.schemas import JobCommand, JobEvent, JobRef, JobTimeline, JobView
from shared.schemas.pipeline import MAX_STEPS, PipelineInput, PipelineResult
from shared.worker import JobContext, JobFailure

FILE = "3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e"
OCR = {"id": "ocr", "operation": "ocr.pdf", "input": {"file_id": FILE}}
ENTITIES = {"id": "entities", "operation": "ner.entities", "after": "ocr"}
SUMMARY = {"id": "summary", "operation": "llm.summarize", "after": "ocr", "input": {"instructions": "short"}}


def refusal(*steps: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        PipelineInput.model_validate({"steps": list(steps)})
    return str(caught.value)


def test_the_issue_example_is_a_valid_pipeline() -> None:
    spec = PipelineInput.model_validate({"steps": [OCR, ENTITIES, SUMMARY]})
    assert [s.id for s in spec.steps] == ["ocr", "entities", "summary"]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            [OCR, {**ENTITIES, "operation": "ner.people"}],
            "step 'entities' (steps[1]): unknown operation 'ner.people'",
        ),
        ([OCR, {**OCR}], "step 'ocr' (steps[1]): duplicate step id"),
        (
            [OCR, {**ENTITIES, "after": "nope"}],
            "step 'entities' (steps[1]): after names an unknown step: 'nope'",
        ),
        ([{**ENTITIES, "after": "ocr"}, OCR], "step 'entities' (steps[0]): after names a later step"),
        ([OCR, {**ENTITIES, "after": "entities"}], "after names a later step (or itself)"),
        (
            [{"id": "ner", "operation": "ner.entities", "input": {"text": "x"}}, {**SUMMARY, "after": "ner"}],
            "step 'summary' (steps[1]): step 'ner' (ner.entities) has no text to follow",
        ),
        ([OCR, {"id": "again", "operation": "ocr.image", "after": "ocr"}], "ocr.image cannot take the text"),
        (
            [OCR, {**SUMMARY, "input": {"text": "mine"}}],
            "step 'summary' (steps[1]): takes its text from step",
        ),
        (
            [{**OCR, "input": {"file_id": "not-an-id"}}],
            "step 'ocr' (steps[0]): input.file_id: String should match",
        ),
        ([OCR, {**SUMMARY, "input": {"tone": 1}}], "step 'summary' (steps[1]): input.tone: Extra inputs"),
        (
            [{"id": "p", "operation": "pipeline", "input": {}}],
            "step 'p' (steps[0]): unknown operation 'pipeline'",
        ),
    ],
)
def test_a_step_that_cannot_run_is_refused_by_name(steps: list[dict[str, Any]], expected: str) -> None:
    assert expected in refusal(*steps)


def test_at_most_ten_steps_and_at_least_one() -> None:
    many: list[dict[str, Any]] = [OCR, *({**ENTITIES, "id": f"e{i}"} for i in range(MAX_STEPS))]
    assert "at most 10 items" in refusal(*many)
    assert "at least 1 item" in refusal()


def test_a_step_id_fits_in_a_job_id() -> None:
    assert "String should match pattern" in refusal({**OCR, "id": "x" * 28})


def _plan() -> PipelinePlan:
    spec = PipelineInput.model_validate({"steps": [OCR, ENTITIES, SUMMARY]})
    return PipelinePlan.of("p1", "acme", spec)


def _timeline(job_id: str, operation: str) -> JobTimeline:
    """A step's events after its `queued` (`_queued`)."""
    return JobTimeline(JobRef(job_id, "acme", operation, 1, datetime.now(UTC)))


def _queued(job_id: str, operation: str) -> JobEvent:
    return JobTimeline.new(JobRef(job_id, "acme", operation, 1, datetime.now(UTC))).queued()


def test_followers_start_together_once_their_step_succeeded_with_its_job_as_text() -> None:
    plan = _plan()
    assert [s.step.id for s in plan.ready()] == ["ocr"]
    assert plan.input_of(plan.steps["ocr"]) == {"file_id": FILE}
    ocr = _timeline("p1.ocr", "ocr.pdf")
    for event in (_queued("p1.ocr", "ocr.pdf"), ocr.started(), ocr.progress(0.5, "page 1 of 2")):
        assert plan.apply(event) is not None
    assert plan.ready() == []  # ocr is running: nothing else yet
    assert plan.apply(ocr.succeeded({"text": "Paris", "pages": []})) is not None
    assert [s.step.id for s in plan.ready()] == ["entities", "summary"]
    assert plan.input_of(plan.steps["summary"]) == {"instructions": "short", "job_id": "p1.ocr"}
    plan.steps["entities"].submitted = True
    assert [s.step.id for s in plan.ready()] == ["summary"]  # never started twice


def test_the_fold_ignores_duplicates_stale_events_other_tenants_and_other_jobs() -> None:
    plan = _plan()
    ocr = _timeline("p1.ocr", "ocr.pdf")
    queued, started = _queued("p1.ocr", "ocr.pdf"), ocr.started()
    assert plan.apply(started) is not None
    assert plan.apply(queued) is None  # older than what is applied
    assert plan.apply(started) is None  # duplicate
    assert plan.apply(ocr.progress(0.25).model_copy(update={"tenant": "other"})) is None
    assert plan.apply(_timeline("p2.ocr", "ocr.pdf").started()) is None
    assert plan.apply(_timeline("p1.nope", "ocr.pdf").started()) is None
    late = ocr.progress(0.9)
    assert plan.apply(ocr.failed("pdf_unreadable", "broken")) is not None
    assert plan.apply(late.model_copy(update={"seq": late.seq + 10})) is None  # after a terminal event


def test_progress_is_weighted_by_operation() -> None:
    plan = _plan()
    weights = [STEP_WEIGHTS["ocr.pdf"], STEP_WEIGHTS["ner.entities"], STEP_WEIGHTS["llm.summarize"]]
    ocr = _timeline("p1.ocr", "ocr.pdf")
    plan.apply(ocr.started())
    plan.apply(ocr.progress(0.5))
    assert plan.fraction() == pytest.approx(0.5 * weights[0] / sum(weights))
    plan.apply(ocr.succeeded({"text": "t"}))
    summary = _timeline("p1.summary", "llm.summarize")
    plan.apply(summary.started())
    plan.apply(summary.progress(0.5))
    assert plan.fraction() == pytest.approx((weights[0] + 0.5 * weights[2]) / sum(weights))


def test_a_failed_step_is_the_failure_and_nothing_more_starts() -> None:
    plan = _plan()
    ocr = _timeline("p1.ocr", "ocr.pdf")
    plan.apply(ocr.started())
    plan.apply(ocr.failed("pdf_unreadable", "not a PDF"))
    failed = plan.failure()
    assert failed is not None
    assert failed.step.id == "ocr"
    assert failed.describe() == "ocr: failed (pdf_unreadable)"
    assert plan.ready() == []
    assert [s.step.id for s in plan.unfinished()] == ["entities", "summary"]


def test_the_outcome_lists_every_step_and_links_big_results() -> None:
    plan = _plan()
    for step, operation, result in (
        ("ocr", "ocr.pdf", {"text": "x" * 1000, "pages": []}),
        ("entities", "ner.entities", {"entities": [], "model": "m"}),
        ("summary", "llm.summarize", {"summary": "s"}),
    ):
        timeline = _timeline(f"p1.{step}", operation)
        plan.apply(timeline.started())
        plan.apply(timeline.succeeded(result))
    assert plan.finished()
    outcome = plan.outcome(inline_limit=500)
    by_id = {s.id: s for s in outcome.steps}
    assert by_id["ocr"].result is None
    assert by_id["ocr"].result_url == "/v1/jobs/p1.ocr"
    assert by_id["entities"].result == {"entities": [], "model": "m"}
    assert [s.status for s in outcome.steps] == ["succeeded"] * 3


def test_a_driver_taking_over_starts_from_the_read_model() -> None:
    plan = _plan()
    view = JobView.model_validate(
        {
            "id": "p1.ocr",
            "operation": "ocr.pdf",
            "status": "succeeded",
            "progress": {"fraction": 1.0},
            "attempts": 1,
            "created_at": datetime.now(UTC),
            "result": {"text": "t"},
            "seq": 1_000_004,
        }
    )
    assert plan.apply_view(view) is not None
    assert [s.step.id for s in plan.ready()] == ["entities", "summary"]


class MemorySteps:
    """The driver's port in memory: started commands are recorded; views come from `known`."""

    def __init__(self, known: Sequence[JobView] = ()) -> None:
        self.started: list[JobCommand] = []
        self.cancelled: list[str] = []
        self.known = list(known)
        self.cancel_flag = False

    async def save_definition(self, pipeline_id: str, tenant: str, steps: list[dict[str, Any]]) -> None:
        self.definition = steps

    async def views(self, tenant: str, job_ids: Sequence[str]) -> list[JobView]:
        return [v for v in self.known if v.id in job_ids]

    async def start(self, command: JobCommand) -> None:
        self.started.append(command)

    async def cancel(self, job_ids: Sequence[str]) -> None:
        self.cancelled += job_ids

    async def cancel_requested(self, job_id: str) -> bool:
        return self.cancel_flag


class Events:
    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    async def publish_event(self, event: JobEvent) -> None:
        self.events.append(event)


def _pipeline_context(steps: list[dict[str, Any]]) -> tuple[PipelineInput, JobContext, Events]:
    command = JobCommand(
        job_id="p1", tenant="acme", operation="pipeline", input={"steps": steps}, created_at=datetime.now(UTC)
    )
    sink = Events()
    return PipelineInput.model_validate(command.input), JobContext(command, sink, since="started"), sink


async def _until(predicate: Any) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("not reached")


async def test_the_driver_runs_steps_as_their_events_arrive() -> None:
    steps = MemorySteps()
    driver = PipelineDriver(steps, inline_limit=10_000)
    spec, ctx, sink = _pipeline_context([OCR, ENTITIES, SUMMARY])
    task = asyncio.create_task(driver.run(spec, ctx))
    await _until(lambda: len(steps.started) == 1)
    assert steps.started[0].job_id == "p1.ocr"
    assert steps.started[0].input == {"file_id": FILE}
    ocr = _timeline("p1.ocr", "ocr.pdf")
    for event in (_queued("p1.ocr", "ocr.pdf"), ocr.started(), ocr.succeeded({"text": "Paris is nice."})):
        driver.observe(event)
    await _until(lambda: len(steps.started) == 3)
    assert {c.job_id: c.input["job_id"] for c in steps.started[1:]} == {
        "p1.entities": "p1.ocr",
        "p1.summary": "p1.ocr",
    }
    for step, operation in (("entities", "ner.entities"), ("summary", "llm.summarize")):
        timeline = _timeline(f"p1.{step}", operation)
        driver.observe(timeline.started())
        driver.observe(timeline.succeeded({"done": step}))
    result = await asyncio.wait_for(task, 1)
    assert isinstance(result, PipelineResult)
    assert [s.status for s in result.steps] == ["succeeded"] * 3
    messages = [e.message for e in sink.events if e.type == "progress"]
    assert messages[:3] == ["ocr: queued", "ocr: running 0%", "ocr: succeeded"]
    fractions = [e.fraction for e in sink.events if e.type == "progress"]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert driver.driving == 0


async def test_a_failed_step_fails_the_driver_with_its_code_and_id_and_stops_the_rest() -> None:
    steps = MemorySteps()
    driver = PipelineDriver(steps, inline_limit=10_000)
    spec, ctx, _ = _pipeline_context([OCR, ENTITIES, SUMMARY])
    task = asyncio.create_task(driver.run(spec, ctx))
    await _until(lambda: len(steps.started) == 1)
    ocr = _timeline("p1.ocr", "ocr.pdf")
    driver.observe(ocr.started())
    driver.observe(ocr.failed("pdf_unreadable", "not a PDF"))
    with pytest.raises(JobFailure) as failure:
        await asyncio.wait_for(task, 1)
    assert failure.value.code == "pdf_unreadable"
    assert "step 'ocr' (job p1.ocr)" in failure.value.message
    assert steps.cancelled == ["p1.entities", "p1.summary"]
    assert len(steps.started) == 1


async def test_a_cancelled_pipeline_cancels_its_running_steps_only_when_asked() -> None:
    steps = MemorySteps()
    driver = PipelineDriver(steps, inline_limit=10_000)
    spec, ctx, _ = _pipeline_context([OCR, ENTITIES])
    task = asyncio.create_task(driver.run(spec, ctx))
    await _until(lambda: len(steps.started) == 1)
    task.cancel()  # a shutdown: hand the pipeline over, leave its steps running
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps.cancelled == []

    steps.cancel_flag = True
    task = asyncio.create_task(driver.run(spec, ctx))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps.cancelled == ["p1.ocr", "p1.entities"]
