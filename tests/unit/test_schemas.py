import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.schemas import OPERATIONS, SEQ_PER_ATTEMPT, Failed, JobCommand, Progress, parse_event
from shared.schemas.topology import NER_QUEUE, QUEUES, event_routing_key


def event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "job_id": "j1",
        "tenant": "t",
        "operation": "ner.entities",
        "seq": SEQ_PER_ATTEMPT + 1,
        "at": "2026-01-01T00:00:00Z",
    }
    return {**base, **overrides}


def test_events_parse_by_type() -> None:
    parsed = parse_event(json.dumps(event(type="progress", fraction=0.5, message="half")))
    assert isinstance(parsed, Progress)
    assert parsed.fraction == 0.5
    failed = parse_event(json.dumps(event(type="failed", error={"code": "x", "message": "y"})))
    assert isinstance(failed, Failed)
    assert failed.error.code == "x"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        json.dumps(event(type="exploded")).encode(),
        json.dumps(event(type="progress", fraction=1.5)).encode(),
        json.dumps(event(type="failed")).encode(),  # no error
        json.dumps({k: v for k, v in event(type="started").items() if k != "job_id"}).encode(),
    ],
)
def test_invalid_events_are_refused(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_event(raw)


def test_command_accepts_unknown_optional_fields_of_a_newer_revision() -> None:
    cmd = JobCommand.model_validate(
        {
            "job_id": "j",
            "tenant": "t",
            "operation": "ner.entities",
            "input": {"text": "x"},
            "created_at": datetime.now(UTC).isoformat(),
            "priority": 3,
        }
    )
    assert cmd.attempt == 1
    assert cmd.schema_version == "1"


def test_command_refuses_another_schema_version() -> None:
    with pytest.raises(ValidationError):
        JobCommand.model_validate(
            {
                "schema_version": "2",
                "job_id": "j",
                "tenant": "t",
                "operation": "o",
                "input": {},
                "created_at": "2026-01-01T00:00:00Z",
            }
        )


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_model_examples_validate(operation: str) -> None:
    op = OPERATIONS[operation]
    for model in (op.input_model, op.result_model):
        extra = model.model_config.get("json_schema_extra")
        assert isinstance(extra, dict), f"{model.__name__} has no example"
        examples = extra["examples"]
        assert isinstance(examples, list)
        assert examples, f"{model.__name__} has no example"
        for example in examples:
            model.model_validate(example)
    JobCommand.model_validate(JobCommand.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]


def test_every_operation_routes_to_its_queue() -> None:
    for name, op in OPERATIONS.items():
        domain = name.split(".")[0]
        assert op.queue in QUEUES
        assert name in op.queue.binding_keys or f"{domain}.*" in op.queue.binding_keys


def test_quorum_queues_bound_crash_loops_and_confirm_dead_letters() -> None:
    args = NER_QUEUE.arguments
    assert args["x-queue-type"] == "quorum"
    assert args["x-delivery-limit"] > 0
    assert args["x-dead-letter-strategy"] == "at-least-once"
    assert args["x-overflow"] == "reject-publish"
    assert event_routing_key("ner.entities", "failed") == "ner.entities.failed"
