"""Turning an HTTP submission into a validated job command."""

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union
from uuid import uuid4

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.files import FileCatalog, FileMissing
from shared.schemas import OPERATIONS, JobCommand, JobTimeline, Queued
from shared.schemas.commands import (
    IDEMPOTENCY_EXPIRES_HEADER,
    IDEMPOTENCY_FINGERPRINT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
)
from shared.schemas.operations import Operation

__all__ = ["SubmitJob", "check_input_file", "fingerprint", "idempotency_headers", "new_job"]

# Slow checks (bounded by the input's caps, about a second at most) share two threads, so
# that a flood of them queues here instead of taking every thread the API has.
_SLOW_CHECKS = CapacityLimiter(2)


def _literal(value: str) -> Any:
    return Literal[value]


def _operation_body(operation: Operation) -> type[BaseModel]:
    """The body that submits one operation (`ner.entities` -> `SubmitNerEntities`)."""
    return create_model(
        "Submit" + "".join(part.title() for part in operation.name.split(".")),
        __config__=ConfigDict(extra="forbid", title=f"Submit {operation.name}"),
        __doc__=operation.description,
        operation=(_literal(operation.name), ...),
        input=(operation.input_model, ...),
    )


_BODIES: Any = Union[tuple(_operation_body(op) for op in OPERATIONS.values())]  # noqa: UP007
_DOCUMENTED_BODY: TypeAdapter[Any] = TypeAdapter(Annotated[_BODIES, Field(discriminator="operation")])


_EXAMPLE = {"operation": "ner.entities", "input": {"text": "Barack Obama visited Paris."}}


class SubmitJob(BaseModel):
    """Read in two steps, the shape here and then `input` by the operation's own model
    (`_validated_input`), so that an unknown operation or a bad input gets an error naming
    its field. Documented as what those two steps accept: one body per operation,
    discriminated by `operation`, each with its operation's input model."""

    model_config = ConfigDict(extra="forbid")

    operation: str = Field(description="One of the operations listed in the description of this API.")
    input: dict[str, Any] = Field(description="The operation's input.")

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(_DOCUMENTED_BODY.core_schema)
        schema.update(title=cls.__name__, examples=[_EXAMPLE])
        return schema


async def _validated_input(body: SubmitJob) -> dict[str, Any]:
    operation = OPERATIONS.get(body.operation)
    if operation is None:
        known = sorted(OPERATIONS)
        raise RequestValidationError(
            [
                {
                    "type": "unknown_operation",
                    "loc": ("body", "operation"),
                    "msg": f"unknown operation {body.operation!r}; known operations: {', '.join(known)}",
                    "input": body.operation,
                    "ctx": {"known_operations": known},
                }
            ]
        )
    try:
        if operation.slow_input:
            model = await anyio.to_thread.run_sync(
                operation.input_model.model_validate, body.input, limiter=_SLOW_CHECKS
            )
        else:
            model = operation.input_model.model_validate(body.input)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**err, "loc": ("body", "input", *err["loc"])} for err in exc.errors(include_url=False)]
        ) from exc
    # Only what the caller gave: an input names one text source, not the others as null
    # (which a worker of an older release, whose input had only `text`, would refuse).
    return model.model_dump(mode="json", exclude_unset=True)


async def new_job(body: SubmitJob, tenant: str) -> tuple[JobCommand, Queued]:
    """Validate the submission; return the command to publish and the job's first event."""
    job_input = await _validated_input(body)
    command = JobCommand(
        job_id=str(uuid4()),
        tenant=tenant,
        operation=body.operation,
        input=job_input,
        attempt=1,
        created_at=datetime.now(UTC),
    )
    return command, JobTimeline.new(command).queued()


def fingerprint(body: SubmitJob) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def check_input_file(command: JobCommand, files: FileCatalog) -> None:
    """A job that reads an uploaded file may name only the tenant's own file, of a type
    the operation reads: 404 for another tenant's (or an unknown) file, 422 for the type.
    A pipeline's steps are checked each, and the error names the step."""
    if command.operation != "pipeline":
        await _check_file(command.tenant, command.operation, command.input, files, ("body", "input"), "")
        return
    for index, step in enumerate(command.input["steps"]):
        where = ("body", "input", "steps", index, "input")
        await _check_file(
            command.tenant, step["operation"], step.get("input", {}), files, where, f"step {step['id']!r}: "
        )


async def _check_file(
    tenant: str,
    operation: str,
    job_input: dict[str, Any],
    files: FileCatalog,
    loc: tuple[Any, ...],
    step: str,
) -> None:
    file_id = job_input.get("file_id")
    if not isinstance(file_id, str):
        return
    try:
        info = await files.info(tenant, file_id)
    except FileMissing as exc:
        raise HTTPException(404, f"{step}no such file: {file_id}") from exc
    accepted = OPERATIONS[operation].file_types
    if info.content_type not in accepted:
        raise RequestValidationError(
            [
                {
                    "type": "unsupported_file_type",
                    "loc": (*loc, "file_id"),
                    "msg": f"{step}{operation} reads {', '.join(accepted)}; this file is {info.content_type}",
                    "input": file_id,
                }
            ]
        )


def idempotency_headers(key: str, digest: str, ttl: int) -> dict[str, str | int]:
    """The command's record of its Idempotency-Key, so the job history can rebuild the binding."""
    return {
        IDEMPOTENCY_KEY_HEADER: key,
        IDEMPOTENCY_FINGERPRINT_HEADER: digest,
        IDEMPOTENCY_EXPIRES_HEADER: int(time.time()) + ttl,
    }
