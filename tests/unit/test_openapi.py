"""The OpenAPI document and the API agree: the submission body is documented per operation as
exactly what the API accepts, and a 405 lists every method of its path. (The running API is
checked against the whole document by tests/e2e/test_openapi_conformance.py.)"""

import asyncio
from functools import cache
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.api.submission import SubmitJob, new_job
from shared.schemas import OPERATIONS, SUPPORTED_CONTENT_TYPES


def app_client() -> TestClient:
    # Without `with`, the lifespan (broker, Redis) does not run: routing alone answers these.
    return TestClient(create_app(ApiSettings(api_keys="t:k")))


@cache
def openapi() -> dict[str, Any]:
    return create_app(ApiSettings(api_keys="t:k")).openapi()


def documented_body() -> Draft202012Validator:
    operation = openapi()["paths"]["/v1/jobs"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": openapi()["components"]})


def accepted(body: dict[str, Any]) -> bool:
    try:
        asyncio.run(new_job(SubmitJob.model_validate(body), "acme"))
    except (RequestValidationError, ValueError):
        return False
    return True


def test_the_submission_body_is_one_schema_per_operation() -> None:
    schemas = openapi()["components"]["schemas"]
    body = schemas["SubmitJob"]
    assert body["discriminator"]["propertyName"] == "operation"
    mapping = body["discriminator"]["mapping"]
    assert set(mapping) == set(OPERATIONS)
    for name, ref in mapping.items():
        variant = schemas[ref.rsplit("/", 1)[1]]
        assert variant["properties"]["operation"]["const"] == name
        input_model = OPERATIONS[name].input_model.__name__
        assert variant["properties"]["input"] == {"$ref": f"#/components/schemas/{input_model}"}
        assert set(variant["required"]) == {"operation", "input"}
        assert variant["additionalProperties"] is False


SUMMARIZE = "llm.summarize"

BODIES = [
    *(
        {"operation": name, "input": example}
        for name, op in OPERATIONS.items()
        for example in op.input_model.model_json_schema().get("examples", [])
    ),
    {"operation": "ner.nope", "input": {"text": "x"}},
    {"operation": "ner.entities", "input": {}},
    {"operation": "ner.entities", "input": {"text": ""}},
    {"operation": "ner.entities", "input": {"text": "x"}, "priority": 1},
    {"operation": "ner.entities", "input": {"text": "x", "lang": "en"}},
    {"operation": "ner.entities"},
    {"input": {"text": "x"}},
    {"operation": SUMMARIZE, "input": {"text": "x"}},
    {"operation": SUMMARIZE, "input": {"text": "x", "job_id": None}},
    {"operation": SUMMARIZE, "input": {"text": None, "job_id": "j1"}},
    {"operation": SUMMARIZE, "input": {"text": "x", "job_id": "j1"}},
    {"operation": SUMMARIZE, "input": {"text": None}},
    {"operation": SUMMARIZE, "input": {"instructions": "short"}},
    {"operation": "ocr.pdf", "input": {"file_id": "not-hex"}},
    {"operation": "ocr.pdf", "input": {"file_id": "3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e"}},
]


@pytest.mark.parametrize("body", BODIES, ids=lambda body: str(body)[:70])
def test_the_documented_body_is_what_the_api_accepts(body: dict[str, Any]) -> None:
    assert documented_body().is_valid(body) == accepted(body)


def test_last_event_id_is_documented_as_the_server_reads_it() -> None:
    operation = openapi()["paths"]["/v1/jobs/{job_id}/events"]["get"]
    (header,) = (p for p in operation["parameters"] if p["name"].lower() == "last-event-id")
    assert header["in"] == "header"
    assert not header["required"]
    assert {k: header["schema"][k] for k in ("type", "minimum")} == {"type": "integer", "minimum": 0}


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/v1/jobs", {"202", "400", "401", "404", "409", "413", "422", "503"}),
        ("get", "/v1/jobs/{job_id}", {"200", "401", "404", "503"}),
        ("post", "/v1/jobs/{job_id}/cancel", {"202", "401", "404", "409", "503"}),
        ("get", "/v1/jobs/{job_id}/events", {"200", "401", "404", "422", "503"}),
        ("post", "/v1/files", {"201", "400", "401", "413", "415", "422", "503"}),
        ("get", "/v1/files/{file_id}", {"200", "401", "404", "503"}),
        ("delete", "/v1/files/{file_id}", {"204", "401", "404", "503"}),
        ("get", "/v1/files/{file_id}/content", {"200", "401", "404", "422", "503"}),
        ("post", "/v1/files/{file_id}/link", {"201", "401", "404", "503"}),
        ("get", "/v1/queues", {"200", "401", "403", "503"}),
    ],
)
def test_every_status_a_route_answers_is_documented(method: str, path: str, statuses: set[str]) -> None:
    assert statuses <= set(openapi()["paths"][path][method]["responses"])


def test_the_upload_documents_the_file_types_it_accepts() -> None:
    body = openapi()["paths"]["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
    types = body["encoding"]["file"]["contentType"].split(", ")
    assert set(types) == set(SUPPORTED_CONTENT_TYPES)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/jobs", "GET, POST"),
        ("PUT", "/v1/jobs", "GET, POST"),
        ("OPTIONS", "/v1/files/3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e", "DELETE, GET"),
        ("PATCH", "/v1/files/3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e", "DELETE, GET"),
        ("DELETE", "/v1/jobs/some-job", "GET"),
        ("GET", "/v1/files/3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e/link", "POST"),
        ("GET", "/v1/jobs/some-job/cancel", "POST"),
    ],
)
def test_a_405_lists_every_method_of_the_path(method: str, path: str, allow: str) -> None:
    response = app_client().request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"detail": "Method Not Allowed"}
