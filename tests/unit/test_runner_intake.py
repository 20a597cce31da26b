"""Intake: which deliveries become jobs, and why the others are rejected (pure)."""

import json
from typing import Any

import pytest

from shared.identity import FORWARDED_FOR_HEADER, PublisherIdentities
from shared.schemas import NerInput, NerResult
from shared.schemas.topology import DELIVERY_LIMIT
from shared.worker import JobContext, OperationConfig
from shared.worker.intake import WATCHDOG_HEADER, Job, Reject, admit


async def _entities(job: NerInput, ctx: JobContext) -> NerResult:
    return NerResult(entities=[], model="test")


SERVED = {"ner.entities": OperationConfig(_entities, time_limit=10, max_attempts=3)}
IDS = PublisherIdentities(["jobs-api"], {"acme-etl": "acme"})
COMMAND = {
    "job_id": "j1",
    "tenant": "acme",
    "operation": "ner.entities",
    "input": {"text": "Paris"},
    "created_at": "2026-01-01T12:00:00Z",
}


def _admit(body: Any, headers: dict[str, Any] | None = None, user: str | None = "jobs-api") -> Job | Reject:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return admit(raw, headers or {}, user, SERVED, IDS, "ner.jobs")


def test_a_valid_command_becomes_a_job_with_its_validated_input() -> None:
    job = _admit(COMMAND)
    assert isinstance(job, Job)
    assert job.input == NerInput(text="Paris")
    assert job.operation is SERVED["ner.entities"]
    assert not job.watchdog


def test_the_watchdog_header_marks_a_lease_check() -> None:
    job = _admit(COMMAND, {WATCHDOG_HEADER: 1})
    assert isinstance(job, Job)
    assert job.watchdog


@pytest.mark.parametrize(
    ("body", "code", "names_job"),
    [
        (b"{nope", "malformed_json", False),
        ({**COMMAND, "created_at": "yesterday"}, "invalid_envelope", True),
        ({**COMMAND, "operation": "ner.other"}, "unknown_operation", True),
        ({**COMMAND, "input": {"text": 5}}, "invalid_input", True),
    ],
)
def test_what_cannot_run_is_rejected_with_a_code(body: Any, code: str, names_job: bool) -> None:
    reject = _admit(body)
    assert isinstance(reject, Reject)
    assert reject.code == code
    assert (reject.names is not None) == names_job


def test_the_reasons_say_what_is_wrong() -> None:
    unknown = _admit({**COMMAND, "operation": "ner.other"})
    assert isinstance(unknown, Reject)
    assert unknown.reason == "operation 'ner.other' is not served by ner.jobs (ner.entities)"
    invalid = _admit({**COMMAND, "input": {"text": 5}})
    assert isinstance(invalid, Reject)
    assert invalid.reason == "input.text: Input should be a valid string"


def test_the_last_delivery_before_the_broker_gives_up_fails_the_job() -> None:
    assert isinstance(_admit(COMMAND, {"x-delivery-count": DELIVERY_LIMIT - 2}), Job)
    reject = _admit(COMMAND, {"x-delivery-count": DELIVERY_LIMIT - 1})
    assert isinstance(reject, Reject)
    assert reject.code == "worker_crashed"
    assert f"delivered {DELIVERY_LIMIT} times" in reject.reason


@pytest.mark.parametrize(
    ("user", "headers", "code"),
    [
        (None, {}, "missing_user_id"),
        ("stranger", {}, "unknown_publisher"),
        ("acme-etl", {}, None),
        ("jobs-api", {FORWARDED_FOR_HEADER: b"stranger"}, "unknown_publisher"),
    ],
)
def test_publisher_identity_comes_first_and_never_names_a_job(
    user: str | None, headers: dict[str, Any], code: str | None
) -> None:
    verdict = _admit({**COMMAND, "input": {"text": 5}} if code else COMMAND, headers, user)
    if code is None:
        assert isinstance(verdict, Job)
    else:
        assert isinstance(verdict, Reject)
        assert (verdict.code, verdict.names) == (code, None)


def test_a_tenant_user_may_not_name_another_tenant() -> None:
    reject = _admit({**COMMAND, "tenant": "globex"}, user="acme-etl")
    assert isinstance(reject, Reject)
    assert (reject.code, reject.names) == ("tenant_mismatch", None)
