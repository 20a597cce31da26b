"""The generated AsyncAPI document: current, complete, free of credentials, and derived from
the registries, so that a new operation, queue or service appears without editing the generator."""

import json

import yaml
from pydantic import BaseModel, Field

from shared.schemas import OPERATIONS, JobCommand, Operation, parse_event
from shared.schemas.topology import JOBS_EXCHANGE, QUEUES, QueueSpec
from tools.asyncapi.document import build_document, event_models, event_type_of
from tools.asyncapi.generate import DOCUMENT_PATH, render
from tools.asyncapi.subscribers import Subscription, discover_subscriptions
from tools.asyncapi.topology import Binding, DeclaredQueue, declared_topology

DOC = yaml.safe_load(DOCUMENT_PATH.read_text())


def message(ref: dict[str, str]) -> dict[str, object]:
    return dict(DOC["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]])


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert DOCUMENT_PATH.read_text() == render(), "run `make asyncapi` and commit asyncapi.yaml"


def test_every_operation_can_be_submitted_with_its_example() -> None:
    for name, op in OPERATIONS.items():
        channel = DOC["channels"][f"jobs/{name}"]
        assert channel["bindings"]["amqp"]["exchange"] == {
            "name": JOBS_EXCHANGE,
            "type": "topic",
            "durable": True,
            "autoDelete": False,
        }
        assert channel["x-routing-key"] == name
        assert channel["publish"]["bindings"]["amqp"]["deliveryMode"] == 2
        msg = message(channel["publish"]["message"])
        assert "user_id" in msg["x-amqp-properties"]["required"]  # type: ignore[index]
        for example in msg["examples"]:  # type: ignore[attr-defined]
            command = JobCommand.model_validate(example["payload"])
            assert command.operation == name
            op.input_model.model_validate(command.input)


def test_every_queue_and_its_dead_letter_queue_is_described_with_its_arguments() -> None:
    consumers = {s.queue: s.service for s in discover_subscriptions()}
    for spec in QUEUES:
        channel = DOC["channels"][spec.name]
        assert channel["bindings"]["amqp"]["queue"]["name"] == spec.name
        assert channel["x-queue-arguments"] == spec.arguments
        assert channel["x-bindings"] == [
            {"exchange": spec.exchange, "routingKey": k} for k in spec.binding_keys
        ]
        assert channel["x-consumers"] == [consumers[spec.name]]
        assert "publish" in channel
        dlq = DOC["channels"][spec.dead_letter_queue]
        assert dlq["x-bindings"] == [{"exchange": "jobs.dlx", "routingKey": spec.name}]
        assert message(dlq["subscribe"]["message"])["headers"]


def test_every_event_is_published_with_a_parsing_example_and_the_api_among_its_producers() -> None:
    # every change to the read model is an event on the broker: the API publishes `queued`
    published = [event_type_of(m) for m in event_models()]
    channel = DOC["channels"]["job-events/{operation}.{event}"]
    refs = channel["subscribe"]["message"]["oneOf"]
    assert [ref["$ref"].rsplit(".", 1)[1] for ref in refs] == published
    assert channel["parameters"]["event"]["schema"]["enum"] == published
    assert "queued" in published
    assert {"api", "projector"} <= set(channel["x-producers"])
    for ref in refs:
        for example in message(ref)["examples"]:  # type: ignore[attr-defined]
            parse_event(json.dumps(example["payload"]))


def test_no_credentials_and_no_host_specific_address() -> None:
    text = DOCUMENT_PATH.read_text()
    for leak in ("amqp://", "guest", "password:", "127.0.0.1"):
        assert leak not in text
    assert DOC["servers"]["broker"]["url"] == "{host}:{port}"


class SpeechInput(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"pages": 3}]}}
    pages: int = Field(ge=1)


class SpeechResult(BaseModel):
    text: str


def test_a_new_service_appears_without_editing_the_generator() -> None:
    tts_queue = QueueSpec(name="tts.jobs", exchange=JOBS_EXCHANGE, binding_keys=("tts.*",))
    control = QueueSpec(name="tts.control", exchange="job-control", binding_keys=("#",))
    operations = {
        **OPERATIONS,
        "tts.speak": Operation("tts.speak", tts_queue, SpeechInput, SpeechResult, "Speech from a text."),
    }
    subs = [
        *discover_subscriptions(),
        Subscription("tts", "HandleTtsJob", "tts.jobs", JOBS_EXCHANGE, "topic", "Runs text-to-speech jobs."),
        Subscription(
            "tts",
            "HandleControl",
            "tts.control",
            "job-control",
            "fanout",
            "Stops jobs.",
            payload={"type": "object", "properties": {"job_id": {"type": "string"}}},
        ),
    ]
    topology = declared_topology()  # as if declare_topology also declared the two new queues
    for spec in (tts_queue, control):
        bindings = [Binding(spec.exchange, key) for key in spec.binding_keys]
        topology.queues[spec.name] = DeclaredQueue(spec.name, spec.arguments, bindings)
        dlq_binding = [Binding("jobs.dlx", spec.name)]
        topology.queues[spec.dead_letter_queue] = DeclaredQueue(spec.dead_letter_queue, {}, dlq_binding)
    doc = build_document(operations, (*QUEUES, tts_queue, control), topology, subs)
    assert doc["channels"]["jobs/tts.speak"]["publish"]["operationId"] == "submit_tts_speak"
    assert doc["channels"]["tts.jobs"]["publish"]["message"] == {
        "$ref": "#/components/messages/command.tts.speak"
    }
    assert doc["channels"]["tts.jobs"]["x-consumers"] == ["tts"]
    assert "tts.jobs.dlq" in doc["channels"]
    assert (
        "tts.speak"
        in doc["channels"]["job-events/{operation}.{event}"]["parameters"]["operation"]["schema"]["enum"]
    )
    assert "tts" in doc["channels"]["job-events/{operation}.{event}"]["x-producers"]
    assert {"SpeechInput", "SpeechResult"} <= doc["components"]["schemas"].keys()
    # a queue whose messages shared/schemas does not describe: Propan's view of the handler
    fallback = doc["components"]["messages"]["tts.handle_control"]
    assert fallback["payload"]["properties"] == {"job_id": {"type": "string"}}


def test_everything_declare_topology_declares_is_in_the_document() -> None:
    topology = declared_topology()
    for name, queue in topology.queues.items():
        channel = DOC["channels"][name]
        assert channel["x-queue-arguments"] == queue.arguments
        assert channel["x-bindings"] == [b.describe() for b in queue.bindings]
    text = DOCUMENT_PATH.read_text()
    for exchange in topology.exchanges:
        assert f"exchange: {exchange}\n" in text or f"name: {exchange}\n" in text, exchange
