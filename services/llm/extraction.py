"""`llm.extract`: JSON that validates against the caller's JSON Schema.

Every answer is parsed and validated here; an invalid one goes back to the model with
the exact errors, up to `max_repairs` times, then the job fails with `invalid_output`.
A text longer than one chunk is extracted part by part and the parts are merged by
the model (map-reduce); only the final, merged answer must satisfy the schema.
"""

import asyncio
import json
from typing import Any

from jsonschema.protocols import Validator

from services.llm import prompts
from services.llm.limits import split_input
from services.llm.mapreduce import MapReduce
from services.llm.operation import LlmOperation
from services.llm.provider import ChatProvider, Message, ProviderError
from services.llm.summarization import provider_failure
from shared.caller_schemas import SchemaRefused, errors_within, safe_validator
from shared.schemas.llm import ExtractInput, ExtractResult
from shared.worker import JobContext, JobFailure

__all__ = ["Extractor", "parse_answer", "schema_errors"]

_MAX_ERRORS_SHOWN = 20


def parse_answer(answer: str) -> Any:
    """The JSON in a model's answer, tolerating a Markdown code fence around it."""
    body = answer.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    return json.loads(body)


def schema_errors(validator: Validator, value: Any) -> list[str]:
    """Every violation as `<where>: <what>`, deepest paths first so the list reads top-down.

    CPU-bound and bounded (shared/caller_schemas.py): callers run it off the event loop."""
    errors = sorted(errors_within(validator, value), key=lambda e: list(e.absolute_path))
    return [f"{e.json_path}: {e.message}" for e in errors[:_MAX_ERRORS_SHOWN]]


async def _validated(validator: Validator, value: Any) -> list[str]:
    try:
        return await asyncio.to_thread(schema_errors, validator, value)
    except SchemaRefused as refused:
        raise JobFailure("invalid_schema", str(refused)) from refused


class _Repairs:
    def __init__(self) -> None:
        self.count = 0


class Extractor(LlmOperation):
    async def run(self, job: ExtractInput, ctx: JobContext) -> ExtractResult:
        if self._provider is None:
            raise JobFailure(
                "provider_not_configured",
                "llm.extract needs a model: set LLM_BASE_URL (an OpenAI-compatible endpoint), "
                "LLM_MODEL and, if the endpoint wants one, LLM_API_KEY",
            )
        text = await self._source.text_of(job, ctx.command)
        try:
            return await self._extract(self._provider, text, job, ctx)
        except ProviderError as error:
            raise provider_failure(error) from error

    def _chunk_limit(self, schema: dict[str, Any]) -> int:
        # The schema is repeated in every prompt: it takes room from the text.
        schema_tokens = len(self._tokenizer.encode(json.dumps(schema, ensure_ascii=False)))
        limits = self._limits
        room = limits.context_tokens - prompts.OVERHEAD_TOKENS - 2 * limits.max_output_tokens - schema_tokens
        if room < min(limits.chunk_tokens, 200):
            raise JobFailure(
                "schema_too_large",
                f"the schema takes {schema_tokens} tokens, leaving no room for text in a "
                f"{limits.context_tokens}-token context (LLM_CONTEXT_TOKENS)",
            )
        return min(limits.chunk_tokens, room)

    async def _extract(
        self, provider: ChatProvider, text: str, job: ExtractInput, ctx: JobContext
    ) -> ExtractResult:
        schema, limits = job.json_schema, self._limits
        validator = safe_validator(schema)
        limit = self._chunk_limit(schema)
        pieces = await split_input(text, limit, limits, self._tokenizer)
        tally = self._tally(ctx)
        repairs = _Repairs()
        # json_object mode only promises an object: ask for it only when an object is wanted.
        wants_object = schema.get("type") in (None, "object")

        async def answer(messages: list[Message], final: bool) -> str:
            """A JSON answer: valid against the schema when final, well-formed JSON otherwise."""
            attempt_messages = messages
            for attempt in range(limits.max_repairs + 1):
                completion = await tally.complete(
                    provider, attempt_messages, max_tokens=limits.max_output_tokens, json_output=wants_object
                )
                try:
                    value = parse_answer(completion.text)
                except ValueError as exc:
                    value, errors = None, [f"not JSON: {exc}"]
                else:
                    errors = await _validated(validator, value) if final else []
                if completion.finish_reason == "length" and errors:
                    errors.append(f"the answer was cut off at {limits.max_output_tokens} tokens")
                if not errors:
                    return json.dumps(value, ensure_ascii=False)
                if attempt == limits.max_repairs:
                    raise JobFailure(
                        "invalid_output",
                        f"the model's answer is still invalid after {limits.max_repairs} repairs: "
                        + "; ".join(errors),
                    )
                repairs.count += 1
                attempt_messages = prompts.repair(messages, completion.text, errors)
            raise AssertionError("unreachable")

        async def extract_piece(number: int, count: int, piece: str) -> str:
            partial = count > 1
            return await answer(
                prompts.extract(piece, schema, job.instructions, partial=partial), not partial
            )

        async def merge(parts: list[str], final: bool) -> str:
            return await answer(
                prompts.merge_extractions(parts, schema, job.instructions, final=final), final
            )

        reducer = MapReduce(
            ctx,
            measure=lambda s: len(self._tokenizer.encode(s)),
            limit=limit,
            result_tokens=limits.max_output_tokens,
        )
        data = json.loads(await reducer.run(pieces, extract_piece, merge))
        return ExtractResult(
            data=data,
            chunks=len(pieces),
            repairs=repairs.count,
            model=tally.model or provider.model,
            usage=tally.usage(),
        )
