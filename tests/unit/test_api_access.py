"""Who may read what on the API, and what its answers leave out (no lifespan: no broker, no Redis)."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace

from services.api.app import create_app
from services.api.deps import get_files
from services.api.settings import ApiSettings
from shared.files import FileCatalog
from shared.storage import StorageUnavailable
from shared.telemetry.tracing import setup_tracing

OPS, ACME = "ops-0123456789abcdef", "acme-0123456789abcdef"
ENDPOINT = "http://minio.internal.example:9000/jobs-files"


def client(**settings: Any) -> TestClient:
    values = {"JOBS_API_KEYS": f"ops:{OPS},acme:{ACME}", "admin_tenants": "ops", **settings}
    app = create_app(ApiSettings(**values))
    return TestClient(app)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_metrics_on_the_public_port_need_an_admin_key() -> None:
    http = client()
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers=bearer(ACME)).status_code == 403
    response = http.get("/metrics", headers=bearer(OPS))
    assert response.status_code == 200
    assert "http_requests_total" in response.text


def test_with_an_internal_listener_the_public_port_has_no_metrics() -> None:
    assert client(metrics_port=9).get("/metrics", headers=bearer(OPS)).status_code == 404


def test_queue_depths_need_an_admin_key() -> None:
    response = client().get("/v1/queues", headers=bearer(ACME))
    assert response.status_code == 403
    assert "API_ADMIN_TENANTS" in response.json()["detail"]


def test_the_key_is_taken_from_the_query_on_streams_only() -> None:
    http = client()
    for path in ("/v1/jobs", "/v1/files/0123abcd", "/v1/queues", "/v1/jobs/j1"):
        response = http.get(path, params={"access_token": OPS})
        assert response.status_code == 401, path


@pytest.mark.parametrize("job_id", ["j1:log", "j1:result", "a" * 65, "caf\u00e9", "<b>"])
def test_a_job_id_no_job_can_have_is_a_404(job_id: str) -> None:
    http = client()
    # answered before the read model is touched (this app has none): never a 500
    assert http.get(f"/v1/jobs/{job_id}", headers=bearer(ACME)).status_code == 404
    assert http.post(f"/v1/jobs/{job_id}/cancel", headers=bearer(ACME)).status_code == 404
    # /events takes a stream slot first (Redis): tests/e2e/test_security.py covers it


class _DownStorage(FileCatalog):
    def __init__(self) -> None:
        pass

    async def info(self, tenant: str, file_id: str) -> Any:
        raise StorageUnavailable(f"cannot connect to {ENDPOINT} (/var/lib/jobs/files: errno 111)")


def test_a_storage_failure_answers_with_a_trace_id_and_no_internals(caplog: pytest.LogCaptureFixture) -> None:
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # none installed yet
        setup_tracing("api", None)
    http = client()
    http.app.dependency_overrides[get_files] = _DownStorage  # type: ignore[attr-defined]
    response = http.get("/v1/files/0123abcd", headers=bearer(ACME))
    assert response.status_code == 503
    assert response.headers["retry-after"]
    detail = response.json()["detail"]
    for internal in ("minio", "/var/lib", "errno"):
        assert internal not in detail
    match = re.search(r"trace ([0-9a-f]{32})", detail)
    assert match, detail
    logged = [r for r in caplog.records if "minio.internal" in r.getMessage()]
    assert logged, "the detail belongs in the log"
