"""A pipeline's state, folded from its steps' job events: which steps to start next, its
weighted progress, its outcome. Pure: the driver feeds it events and read-model views."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.schemas import JobError, JobEvent, JobView, is_terminal, status_after
from shared.schemas.pipeline import (
    PipelineInput,
    PipelineResult,
    PipelineStep,
    StepOutcome,
    StepStatus,
    follower_input,
    step_job_id,
)

__all__ = ["STEP_WEIGHTS", "PipelinePlan", "StepState"]

STEP_WEIGHTS: Mapping[str, float] = {
    "ocr.pdf": 4.0,
    "ocr.image": 2.0,
    "llm.summarize": 2.0,
    "llm.extract": 2.0,
    "ner.entities": 1.0,
}
"""How much of a pipeline's progress each step's operation is (roughly its share of the time
on typical documents: OCR of a PDF dominates); an operation not listed weighs 1."""


@dataclass
class StepState:
    step: PipelineStep
    job_id: str
    status: StepStatus = "pending"
    seq: int = -1
    """Number of the last event applied (-1: none)."""
    fraction: float = 0.0
    message: str = ""
    result: dict[str, Any] | None = None
    error: JobError | None = None
    submitted: bool = False
    """This driver has published the step's command (its `queued` may not be seen yet)."""

    @property
    def weight(self) -> float:
        return STEP_WEIGHTS.get(self.step.operation, 1.0)

    @property
    def done(self) -> bool:
        return is_terminal(self.status)

    def describe(self) -> str:
        """The step and its state, as a pipeline progress message shows it."""
        if self.status == "running":
            percent = f"{self.fraction:.0%}"
            return f"{self.step.id}: running {percent}" + (f" ({self.message})" if self.message else "")
        if self.status == "failed" and self.error is not None:
            return f"{self.step.id}: failed ({self.error.code})"
        return f"{self.step.id}: {self.status}"


@dataclass
class PipelinePlan:
    pipeline_id: str
    tenant: str
    steps: dict[str, StepState] = field(default_factory=dict)

    @classmethod
    def of(cls, pipeline_id: str, tenant: str, spec: PipelineInput) -> "PipelinePlan":
        return cls(
            pipeline_id,
            tenant,
            {s.id: StepState(s, step_job_id(pipeline_id, s.id)) for s in spec.steps},
        )

    def step_of(self, job_id: str) -> StepState | None:
        prefix, _, step_id = job_id.rpartition(".")
        state = self.steps.get(step_id) if prefix == self.pipeline_id else None
        return state if state is not None and state.job_id == job_id else None

    def apply(self, event: JobEvent) -> StepState | None:
        """Fold one of a step's events; the step when it changed, None for a duplicate, a stale
        event, another tenant's job or a job that is no step of this pipeline."""
        state = self.step_of(event.job_id)
        if state is None or event.tenant != self.tenant or event.seq <= state.seq or state.done:
            return None
        state.seq = event.seq
        state.status = status_after(event.type).value
        match event.type:
            case "started":
                state.fraction, state.message = 0.0, ""
            case "progress":
                state.fraction, state.message = event.fraction, event.message
            case "succeeded":
                state.fraction, state.result = 1.0, event.result
            case "failed" | "retrying":
                state.error = event.error
        return state

    def apply_view(self, view: JobView) -> StepState | None:
        """Fold what the read model has of a step (a driver taking over a pipeline)."""
        state = self.step_of(view.id)
        if state is None or view.seq <= state.seq or state.done:
            return None
        state.seq, state.status = view.seq, view.status.value
        state.fraction, state.message = view.progress.fraction, view.progress.message
        state.result, state.error = view.result, view.error
        return state

    def failure(self) -> StepState | None:
        """The first step (in the order given) that ended without succeeding."""
        return next((s for s in self.steps.values() if s.status in ("failed", "cancelled")), None)

    def finished(self) -> bool:
        return all(s.status == "succeeded" for s in self.steps.values())

    def ready(self) -> list[StepState]:
        """Steps to start now: not started, and first or after a succeeded step. None once a
        step has failed (the pipeline fails; nothing more starts)."""
        if self.failure() is not None:
            return []
        return [
            s
            for s in self.steps.values()
            if s.status == "pending"
            and not s.submitted
            and (s.step.after is None or self.steps[s.step.after].status == "succeeded")
        ]

    def input_of(self, state: StepState) -> dict[str, Any]:
        after = state.step.after
        return (
            state.step.input if after is None else follower_input(state.step.input, self.steps[after].job_id)
        )

    def unfinished(self) -> list[StepState]:
        """Steps that are not terminal: what cancelling the pipeline stops."""
        return [s for s in self.steps.values() if not s.done]

    def fraction(self) -> float:
        """Weighted progress of the steps: a finished step counts whole, a running one by its fraction."""
        total = sum(s.weight for s in self.steps.values())
        done = sum(s.weight * (1.0 if s.done else s.fraction) for s in self.steps.values())
        return min(done / total, 1.0) if total else 0.0

    def outcome(self, inline_limit: int) -> PipelineResult:
        """Every step with its job id, status and result; a result whose JSON is over
        `inline_limit` bytes is only linked (`result_url`)."""
        return PipelineResult(
            steps=[
                StepOutcome(
                    id=s.step.id,
                    job_id=s.job_id,
                    operation=s.step.operation,
                    after=s.step.after,
                    status=s.status,
                    result=s.result if _json_size(s.result) <= inline_limit else None,
                    result_url=f"/v1/jobs/{s.job_id}",
                    error=s.error if s.status == "failed" else None,
                )
                for s in self.steps.values()
            ]
        )

    def definition(self) -> list[dict[str, Any]]:
        """What the API lists under the pipeline (steps and their job ids, no inputs)."""
        return [
            {"id": s.step.id, "job_id": s.job_id, "operation": s.step.operation, "after": s.step.after}
            for s in self.steps.values()
        ]


def _json_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
