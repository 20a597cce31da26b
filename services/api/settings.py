from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import CommonSettings

__all__ = ["ApiSettings"]


class ApiSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, description="Port the API listens on.")
    api_keys: str = Field(
        "",
        validation_alias=AliasChoices("JOBS_API_KEYS"),
        description="`tenant:key` pairs separated by commas; a key maps to exactly one tenant.",
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
    broker_connect_timeout: float = Field(
        30.0, description="Seconds to keep trying the broker at start before giving up."
    )
