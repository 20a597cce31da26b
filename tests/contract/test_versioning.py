"""Released messages keep parsing: within a schema version the only allowed change is a new
optional field. `samples/v<N>/` holds messages as version N was released; never edit them,
add a file for a new message kind (the test below lists any that is missing)."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.schemas import OPERATIONS, SCHEMA_VERSION, JobCommand, Succeeded, parse_event
from tools.asyncapi.document import event_models, event_type_of, examples_of

SAMPLES = Path(__file__).parent / "samples"
ALL = sorted(SAMPLES.glob("v*/*.json"))


def kind_of(path: Path) -> str:
    """`command.ner.entities.minimal.json` -> `command.ner.entities`."""
    return path.name.removesuffix(".json").removesuffix(".minimal")


def test_samples_exist_for_every_released_version() -> None:
    assert (SAMPLES / f"v{SCHEMA_VERSION}").is_dir()
    assert ALL


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_released_sample_still_parses(path: Path) -> None:
    version = path.parent.name.removeprefix("v")
    raw = json.loads(path.read_text())
    kind = kind_of(path)
    if kind.startswith("command."):
        command = JobCommand.model_validate(raw)
        assert command.schema_version == version
        assert f"command.{command.operation}" == kind
        operation = OPERATIONS[command.operation]  # an operation is never removed within a version
        operation.input_model.model_validate(command.input)
    else:
        event = parse_event(path.read_bytes())
        assert event.schema_version == version
        assert f"event.{event.type}" == kind
        if event.type == "succeeded" and event.result_ref is None:
            OPERATIONS[event.operation].result_model.model_validate(event.result)


def test_a_succeeded_event_has_exactly_one_of_result_and_result_ref() -> None:
    inline = json.loads((SAMPLES / "v1" / "event.succeeded.json").read_text())
    by_ref = json.loads((SAMPLES / "v2" / "event.succeeded.json").read_text())
    for bad in (
        {**inline, "result_ref": by_ref["result_ref"], "schema_version": "2"},  # both
        {k: v for k, v in by_ref.items() if k != "result_ref"},  # neither
        {**by_ref, "schema_version": "1"},  # a by-reference event is never version 1
        {**by_ref, "result_ref": {**by_ref["result_ref"], "key": "files/acme/x"}},  # not a result key
    ):
        with pytest.raises(ValidationError):
            parse_event(json.dumps(bad))
    assert parse_event(json.dumps({**inline, "schema_version": "2"})) == Succeeded.model_validate(
        {**inline, "schema_version": "2"}
    )


def test_every_message_of_the_current_version_has_a_sample() -> None:
    have = {kind_of(p) for p in (SAMPLES / f"v{SCHEMA_VERSION}").glob("*.json")}
    wanted: dict[str, dict[str, object]] = {}
    for name, op in OPERATIONS.items():
        example = {**examples_of(JobCommand)[0], "operation": name, "input": examples_of(op.input_model)[0]}
        wanted[f"command.{name}"] = example
    for model in event_models():
        wanted[f"event.{event_type_of(model)}"] = examples_of(model)[0]
    missing = {kind: example for kind, example in wanted.items() if kind not in have}
    assert not missing, "add these samples to tests/contract/samples/v{}/: {}".format(
        SCHEMA_VERSION,
        "; ".join(f"{kind}.json = {json.dumps(example)}" for kind, example in missing.items()),
    )
