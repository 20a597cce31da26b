from datetime import timedelta

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import MetricsSettings
from shared.storage import UsesStorage

__all__ = ["ApiSettings"]


class ApiSettings(MetricsSettings, UsesStorage):
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, description="Port the API listens on.")
    api_keys: str = Field(
        "",
        validation_alias=AliasChoices("JOBS_API_KEYS"),
        description="`tenant:key` pairs separated by commas; a key maps to exactly one tenant.",
    )
    admin_tenants: str = Field(
        "",
        description="Tenants (names from JOBS_API_KEYS, comma-separated) whose keys may read "
        "platform-wide numbers: `GET /v1/queues`, and `GET /metrics` when API_METRICS_PORT is 0.",
    )
    max_body_bytes: int = Field(2 * 1024 * 1024, description="Larger request bodies get 413.")
    max_upload_bytes: int = Field(50 * 1024 * 1024, description="Larger file uploads get 413.")
    idempotency_ttl: int = Field(24 * 3600, description="Seconds an Idempotency-Key is remembered.")
    cancel_ttl: int = Field(7 * 24 * 3600, description="Seconds a cancel request is remembered.")
    keepalive_seconds: float = Field(15.0, description="Idle seconds between SSE/WebSocket keep-alives.")
    http_idle_timeout: int = Field(
        75,
        description="Seconds an idle HTTP keep-alive connection stays open. Longer than clients and "
        "load balancers keep theirs (httpx 5 s, AWS ALB 60 s), so the server never closes a "
        "connection the client is just reusing (uvicorn's own default, 5 s, races httpx's 5 s).",
    )
    publish_timeout: float = Field(5.0, description="Seconds to wait for the broker's confirm.")
    search_timeout: float = Field(
        5.0, gt=0, description="Seconds a collection search waits for the rag service before a 503."
    )
    broker_connect_timeout: float = Field(
        30.0, description="Seconds to keep trying the broker at start before giving up."
    )

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(filter(None, (t.strip() for t in self.admin_tenants.split(","))))

    # Per-tenant limits (services/api/quotas/); 0 turns one off.
    tenant_submit_rate: float = Field(50.0, ge=0, description="Job submissions per second a tenant sustains.")
    tenant_submit_burst: int = Field(200, ge=0, description="Submissions a tenant may make at once.")
    tenant_max_active_jobs: int = Field(10_000, ge=0, description="Jobs queued or running per tenant.")
    tenant_max_streams: int = Field(256, ge=0, description="Open SSE and WebSocket streams per tenant.")
    tenant_max_storage_bytes: int = Field(5_000_000_000, ge=0, description="Uploaded bytes kept per tenant.")
    file_ttl_days: float = Field(30.0, ge=0, description="Days an upload lives; then it answers 404.")
    file_link_seconds: int = Field(
        900,
        ge=1,
        description="Seconds a file link (`POST /v1/files/{id}/link`, the dashboard's source links) "
        "opens the file without a key.",
    )

    @property
    def file_ttl(self) -> timedelta | None:
        return timedelta(days=self.file_ttl_days) if self.file_ttl_days > 0 else None
