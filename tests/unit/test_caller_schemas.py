"""A caller's JSON Schema (llm.extract) can neither reach out nor hang the API or a worker."""

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.api.submission import SubmitJob, new_job
from shared.caller_schemas import SchemaRefused, check_schema, errors_within, safe_validator
from shared.schemas.llm import ExtractInput

EVIL = "^(a+)+$"  # backtracking: Python's re takes ~0.2 s for 22 characters, x3 per 2 more


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A TCP port that would see any fetch of a URL pointing at it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/schema.json", server
    server.close()


def connections(server: socket.socket) -> int:
    count = 0
    try:
        while True:
            server.accept()[0].close()
            count += 1
    except BlockingIOError:
        return count


def refusal(schema: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        ExtractInput.model_validate({"text": "x", "schema": schema})
    (error,) = raised.value.errors()
    assert error["loc"] == ("schema",)
    return str(error["msg"])


def nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def test_a_url_reference_is_refused_and_never_fetched(listener: tuple[str, socket.socket]) -> None:
    url, server = listener
    assert "only references inside the schema" in refusal({"$ref": url})
    assert "only references inside the schema" in refusal({"properties": {"a": {"$dynamicRef": url}}})
    assert connections(server) == 0


def test_a_file_reference_is_refused() -> None:
    assert "file:///etc/passwd" in refusal({"$ref": "file:///etc/passwd"})
    assert "only references inside" in refusal({"$defs": {"a": {"$ref": "other.json#/x"}}})


def test_local_references_work() -> None:
    schema = {"$defs": {"n": {"type": "integer"}}, "type": "array", "items": {"$ref": "#/$defs/n"}}
    ExtractInput.model_validate({"text": "x", "schema": schema})
    assert [e.message for e in errors_within(safe_validator(schema), [1, "2"])] == [
        "'2' is not of type 'integer'"
    ]


def test_the_validator_never_fetches_even_a_schema_that_skipped_the_check(
    listener: tuple[str, socket.socket],
) -> None:
    url, server = listener
    with pytest.raises(SchemaRefused, match="cannot be resolved"):
        errors_within(safe_validator({"$ref": url}), {})
    assert connections(server) == 0


def test_patterns_run_in_linear_time_on_the_model_output() -> None:
    validator = safe_validator(
        {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": EVIL}},
            "patternProperties": {EVIL: {"type": "integer"}},
            "additionalProperties": False,
        }
    )
    evil = "a" * 50_000 + "!"
    began = time.perf_counter()
    errors = errors_within(validator, {"code": evil, evil: 1})
    assert time.perf_counter() - began < 0.5
    assert sorted(str(e.validator) for e in errors) == ["additionalProperties", "pattern"]
    assert errors_within(validator, {"code": "aaa", "aa": 1}) == []


def test_patterns_re2_cannot_run_are_refused_at_submission() -> None:
    assert "is not supported" in refusal({"type": "string", "pattern": "(a)\\1"})
    assert "is not supported" in refusal({"patternProperties": {"(?=x)": {}}})
    assert "unevaluatedProperties" in refusal(
        {"patternProperties": {"a": {}}, "unevaluatedProperties": False}
    )


async def test_a_deep_schema_is_a_422_not_a_500() -> None:
    with pytest.raises(RequestValidationError) as raised:
        await new_job(SubmitJob(operation="llm.extract", input={"text": "x", "schema": nested(200)}), "t")
    (error,) = raised.value.errors()
    assert error["loc"] == ("body", "input", "schema")
    assert "MAX_SCHEMA_DEPTH" in error["msg"]
    check_schema(nested(15))  # 31 levels of JSON: within the cap


def test_a_huge_schema_is_refused_quickly() -> None:
    huge = {"type": "object", "description": "x" * 2_000_000}
    began = time.perf_counter()
    assert "MAX_SCHEMA_BYTES" in refusal(huge)
    many = {"type": "object", "properties": {f"p{i}": {} for i in range(1001)}}
    assert "MAX_SCHEMA_PROPERTIES" in refusal(many)
    assert time.perf_counter() - began < 0.5


def test_schemas_whose_validation_loops_or_explodes_are_refused() -> None:
    assert "loop" in refusal({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})
    # 2**40 paths through 40 small definitions
    defs: dict[str, Any] = {
        f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(40)
    }
    defs["d40"] = {"type": "string"}
    began = time.perf_counter()
    assert "longer than" in refusal({"$defs": defs, "$ref": "#/$defs/d0"})
    assert time.perf_counter() - began < 5


async def test_checking_a_schema_does_not_block_the_event_loop() -> None:
    # ~0.3 s of meta-schema validation for the one check
    schema = {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 0}] * 800}}
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    began = time.perf_counter()
    await new_job(SubmitJob(operation="llm.extract", input={"text": "x", "schema": schema}), "t")
    took = time.perf_counter() - began
    ticker.cancel()
    # a check on the loop would show as one gap as long as the check itself
    assert took > 0.05, "the check was too quick to show anything"
    assert max(gaps) < took / 2
