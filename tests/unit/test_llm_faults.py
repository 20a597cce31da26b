"""Retry timing, Retry-After parsing, answer parsing and the LLM operations' contract."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from jsonschema.validators import Draft202012Validator
from pydantic import ValidationError

from services.llm.extraction import parse_answer, schema_errors
from services.llm.provider import retry_after
from services.llm.resilience import RetryPolicy, retry_delay
from shared.schemas.llm import ExtractInput, SummarizeInput

POLICY = RetryPolicy(max_attempts=5, backoff_base=1.0, backoff_max=10.0)


def test_backoff_doubles_with_jitter_and_stops_after_the_last_attempt() -> None:
    rng = random.Random(7)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)):
        delays = [retry_delay(attempt, POLICY, None, rng) for _ in range(200)]
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len({round(d or 0, 6) for d in delays}) > 150  # jittered, not fixed
    assert retry_delay(5, POLICY, None, rng) is None


def test_backoff_is_capped() -> None:
    many = RetryPolicy(max_attempts=20, backoff_base=1.0, backoff_max=10.0)
    assert all((retry_delay(15, many, None, random.Random(i)) or 0) <= 10.0 for i in range(50))


def test_retry_after_is_a_floor_and_too_long_a_wait_gives_up() -> None:
    rng = random.Random(1)
    assert all(3.0 <= (retry_delay(1, POLICY, 3.0, rng) or 0) <= 3.3 for _ in range(50))
    assert retry_delay(1, POLICY, 11.0, rng) is None  # longer than backoff_max: not held for it


def test_retry_after_header_forms() -> None:
    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= (retry_after({"retry-after": later}) or 0) <= 30
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_answers_in_code_fences_are_parsed() -> None:
    assert parse_answer('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_answer(' {"a": [1, 2]} ') == {"a": [1, 2]}
    with pytest.raises(ValueError, match="Expecting value"):
        parse_answer("Sure! Here is the JSON you asked for.")


def test_schema_errors_name_where_and_what() -> None:
    schema = {
        "type": "object",
        "properties": {"total": {"type": "number"}, "items": {"type": "array", "items": {"type": "string"}}},
        "required": ["total"],
    }
    errors = schema_errors(Draft202012Validator(schema), {"items": ["ok", 3]})
    assert errors == ["$: 'total' is a required property", "$.items[1]: 3 is not of type 'string'"]


def test_inputs_need_exactly_one_source() -> None:
    SummarizeInput.model_validate({"job_id": "j1"})
    for bad in ({}, {"text": "x", "job_id": "j"}, {"text": ""}, {"text": "x", "colour": "red"}):
        with pytest.raises(ValidationError):
            SummarizeInput.model_validate(bad)


def test_extract_refuses_an_invalid_schema_and_keeps_its_name_when_serialised() -> None:
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        ExtractInput.model_validate({"text": "x", "schema": {"type": "integer", "minimum": "zero"}})
    parsed = ExtractInput.model_validate({"text": "x", "schema": {"type": "object"}})
    dumped = parsed.model_dump(mode="json")  # what the API publishes
    assert dumped["schema"] == {"type": "object"}
    assert ExtractInput.model_validate(dumped) == parsed
