"""How every worker service processes a job delivery, independent of the consumer framework.

`JobRunner.handle` never raises for bad input: a message that is not JSON or not a
valid job is dead-lettered with its reason (and, when it names a job, that job is
failed), a domain failure ends the job `failed`. It raises only when the broker
cannot take the outcome (then the delivery is not acked and comes back).
"""

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel, ValidationError

from shared.messaging import Publisher
from shared.schemas import (
    OPERATIONS,
    SEQ_PER_ATTEMPT,
    Failed,
    JobCommand,
    JobError,
    Progress,
    Started,
    Succeeded,
)
from shared.schemas.topology import QueueSpec

__all__ = [
    "JobContext",
    "JobFailure",
    "JobRunner",
    "OperationHandler",
    "TransientError",
    "describe_errors",
]

log = logging.getLogger(__name__)


class JobFailure(Exception):
    """A permanent failure of one job, with a stable code (e.g. `input_too_large`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransientError(JobFailure):
    """A failure worth another attempt later (a provider's 503, storage briefly away)."""


def describe_errors(exc: ValidationError, *prefix: str) -> str:
    """`input.text: Input should be a valid string; ...`: every error, with where it is."""
    return "; ".join(
        f"{'.'.join(str(p) for p in (*prefix, *err['loc'])) or '<root>'}: {err['msg']}"
        for err in exc.errors()
    )


def _now() -> datetime:
    return datetime.now(UTC)


class JobContext:
    """What domain code sees of the platform while it runs a job."""

    def __init__(self, command: JobCommand, publisher: Publisher) -> None:
        self.command = command
        self._publisher = publisher
        self._next_seq = command.attempt * SEQ_PER_ATTEMPT + 1

    def _envelope(self) -> dict[str, Any]:
        c = self.command
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return {
            "job_id": c.job_id,
            "tenant": c.tenant,
            "operation": c.operation,
            "attempt": c.attempt,
            "job_created_at": c.created_at,
            "seq": seq,
            "at": _now(),
        }

    async def progress(self, fraction: float, message: str) -> None:
        await self._publisher.publish_event(
            Progress(**self._envelope(), fraction=min(max(fraction, 0.0), 1.0), message=message)
        )

    async def started(self) -> None:
        await self._publisher.publish_event(Started(**self._envelope()))

    async def succeeded(self, result: BaseModel) -> None:
        await self._publisher.publish_event(
            Succeeded(**self._envelope(), result=result.model_dump(mode="json"))
        )

    async def failed(self, code: str, message: str) -> None:
        await self._publisher.publish_event(
            Failed(**self._envelope(), error=JobError(code=code, message=message))
        )


OperationHandler = Callable[[Any, JobContext], Awaitable[BaseModel]]
"""Domain entry point: (validated input model, context) -> result model."""


class JobRunner:
    def __init__(
        self, queue: QueueSpec, publisher: Publisher, handlers: Mapping[str, OperationHandler]
    ) -> None:
        self.queue = queue
        self.publisher = publisher
        self.handlers = handlers

    async def handle(self, message: AbstractIncomingMessage) -> None:
        try:
            raw = json.loads(message.body)
        except (ValueError, UnicodeDecodeError) as exc:
            await self._reject(message, None, "malformed_json", f"body is not JSON: {exc}")
            return
        try:
            command = JobCommand.model_validate(raw)
        except ValidationError as exc:
            await self._reject(message, raw, "invalid_envelope", describe_errors(exc))
            return
        handler = self.handlers.get(command.operation)
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            reason = f"operation {command.operation!r} is not served by {self.queue.name} ({known})"
            await self._reject(message, raw, "unknown_operation", reason)
            return
        try:
            job_input = OPERATIONS[command.operation].input_model.model_validate(command.input)
        except ValidationError as exc:
            await self._reject(message, raw, "invalid_input", describe_errors(exc, "input"))
            return
        await self._run(message, command, handler, job_input)

    async def _run(
        self,
        message: AbstractIncomingMessage,
        command: JobCommand,
        handler: OperationHandler,
        job_input: BaseModel,
    ) -> None:
        ctx = JobContext(command, self.publisher)
        await ctx.started()
        try:
            result = await handler(job_input, ctx)
        except JobFailure as failure:
            log.info("job %s failed: %s: %s", command.job_id, failure.code, failure.message)
            await ctx.failed(failure.code, failure.message)
            return
        except Exception as exc:
            log.exception("job %s crashed", command.job_id)
            reason = f"{type(exc).__name__}: {exc}"
            await ctx.failed("internal_error", reason)
            await self.publisher.dead_letter(self.queue, message, "internal_error", reason)
            return
        await ctx.succeeded(result)

    async def _reject(self, message: AbstractIncomingMessage, raw: Any, code: str, reason: str) -> None:
        """Dead-letter a message that is not a runnable job; fail the job it names, if any."""
        log.warning("dead-lettering message %s: %s: %s", message.message_id, code, reason)
        if isinstance(raw, dict):
            await self._fail_named_job(raw, message.routing_key or "", code, reason)
        await self.publisher.dead_letter(self.queue, message, code, reason)

    async def _fail_named_job(self, raw: dict[str, Any], routing_key: str, code: str, reason: str) -> None:
        job_id, tenant = raw.get("job_id"), raw.get("tenant")
        if not (isinstance(job_id, str) and isinstance(tenant, str) and job_id and tenant):
            return
        attempt = raw["attempt"] if isinstance(raw.get("attempt"), int) and raw["attempt"] > 0 else 1
        try:
            event = Failed(
                job_id=job_id,
                tenant=tenant,
                operation=str(raw.get("operation") or routing_key or "unknown"),
                attempt=attempt,
                seq=attempt * SEQ_PER_ATTEMPT,
                at=_now(),
                error=JobError(code=code, message=reason),
            )
        except ValidationError:
            return  # the names are unusable as a job reference: the dead letter is the record
        await self.publisher.publish_event(event)
