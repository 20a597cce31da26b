"""The pipeline driver: runs a `pipeline` job (through the job runner, like any operation) by
starting its steps as jobs of their own and following their events from the job history.

The runner gives the pipeline job its life: `started`, `succeeded` with the result this returns,
`failed` with a step's code, `cancelled` (its task is cancelled when the pipeline is), leases
for pipelines that outlive the broker's consumer timeout, and redelivery to another driver when
this one dies. What happened to the steps meanwhile is in the read model (the history reader
applies every step event there before it hands it on, `history.py`), so a driver taking over
starts from the read model and then follows the history; no step is started twice, because a
step's job id is `<pipeline id>.<step id>` and a step with a record is not started again.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from services.pipeline.plan import PipelinePlan
from shared.schemas import JobCommand, JobEvent, JobView
from shared.schemas.commands import is_job_id
from shared.schemas.pipeline import PipelineInput, PipelineResult
from shared.worker import JobContext, JobFailure

__all__ = ["PipelineDriver", "StepPort"]

log = logging.getLogger(__name__)


class StepPort(Protocol):
    """What the driver does to steps, and reads of them (services/pipeline/steps.py)."""

    async def save_definition(self, pipeline_id: str, tenant: str, steps: list[dict[str, Any]]) -> None:
        """Where the API finds the pipeline's steps (`GET /v1/jobs/{id}`, cancel)."""

    async def views(self, tenant: str, job_ids: Sequence[str]) -> list[JobView]:
        """What the read model has of these jobs, with results."""

    async def start(self, command: JobCommand) -> None:
        """Publish a step's command (confirmed), then record it `queued`."""

    async def cancel(self, job_ids: Sequence[str]) -> None:
        """Ask these steps to stop (the cancel flag their workers poll)."""

    async def cancel_requested(self, job_id: str) -> bool: ...


@dataclass
class _Run:
    plan: PipelinePlan
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    news: list[str] = field(default_factory=list)
    """Progress messages not yet published (one per step change)."""


class PipelineDriver:
    def __init__(self, steps: StepPort, *, inline_limit: int) -> None:
        self._steps = steps
        self._inline_limit = inline_limit
        self._runs: dict[str, _Run] = {}
        """The runs this process drives, by their steps' job ids."""

    @property
    def driving(self) -> int:
        return len({id(run) for run in self._runs.values()})

    def observe(self, event: JobEvent) -> None:
        """An event from the job history (already in the read model): wake the run it belongs to."""
        run = self._runs.get(event.job_id)
        if run is None:
            return
        state = run.plan.apply(event)
        if state is not None:
            run.news.append(state.describe())
            run.wake.set()

    async def run(self, spec: PipelineInput, ctx: JobContext) -> PipelineResult:
        command = ctx.command
        plan = PipelinePlan.of(command.job_id, command.tenant, spec)
        too_long = [s.job_id for s in plan.steps.values() if not is_job_id(s.job_id)]
        if too_long:
            raise JobFailure("invalid_input", f"step job id {too_long[0]!r} is not a job id: shorten the ids")
        run = _Run(plan)
        self._runs.update((s.job_id, run) for s in plan.steps.values())
        try:
            await self._steps.save_definition(command.job_id, command.tenant, plan.definition())
            # Registered first, read second: an event the history hands on after this read is
            # observed, one before it is in the read model already (history.py applies first).
            for view in await self._steps.views(command.tenant, [s.job_id for s in plan.steps.values()]):
                plan.apply_view(view)
            return await self._drive(run, ctx)
        except asyncio.CancelledError:
            # cancelled, or shutting down (the pipeline is handed to another driver), or timed out
            with contextlib.suppress(JobFailure):  # Redis away: the API flagged the steps too
                if await self._steps.cancel_requested(command.job_id):
                    await self._steps.cancel([s.job_id for s in plan.unfinished()])
            raise
        finally:
            for s in plan.steps.values():
                self._runs.pop(s.job_id, None)

    async def _drive(self, run: _Run, ctx: JobContext) -> PipelineResult:
        plan = run.plan
        while True:
            run.wake.clear()
            news, run.news = run.news, []
            for message in news:
                await ctx.progress(plan.fraction(), message)
            failed = plan.failure()
            cancelling = failed is not None and failed.status == "cancelled"
            if cancelling and await self._steps.cancel_requested(plan.pipeline_id):
                # the pipeline itself is being cancelled (the API flagged its steps too): the
                # runner's cancel poll ends this task, so the pipeline ends `cancelled`
                await asyncio.Event().wait()
            if failed is not None:
                await self._steps.cancel([s.job_id for s in plan.unfinished()])
                if failed.status == "failed" and failed.error is not None:
                    code, why = failed.error.code, failed.error.message
                else:
                    code, why = "step_cancelled", "the step's job was cancelled"
                raise JobFailure(code, f"step {failed.step.id!r} (job {failed.job_id}) failed: {why}")
            if plan.finished():
                return plan.outcome(self._inline_limit)
            ready = plan.ready()
            if ready and not await self._steps.cancel_requested(plan.pipeline_id):
                for state in ready:
                    await self._steps.start(
                        JobCommand(
                            job_id=state.job_id,
                            tenant=plan.tenant,
                            operation=state.step.operation,
                            input=plan.input_of(state),
                            created_at=datetime.now(UTC),
                        )
                    )
                    state.submitted = True
                    log.info("pipeline %s: started step %s", plan.pipeline_id, state.step.id)
            await run.wake.wait()
