"""Settings every service reads; each service adds its own with an env prefix."""

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis

from shared.identity import IdentitySettings, PublisherIdentities
from shared.redis_client import RedisTarget, check_redis_url, parse_sentinels
from shared.results import DEFAULT_INLINE_MAX_BYTES
from shared.worker.config import RunnerConfig

__all__ = ["CommonSettings", "ConsumerSettings", "MetricsSettings", "WorkerSettings"]


class CommonSettings(BaseSettings):
    """Every service reads these: the API, every worker and the projector."""

    # an error names the setting and what is wrong, never the value: URLs carry passwords
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    amqp_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ; its user is the `user_id` the service publishes with. A cluster: its "
        "nodes' URLs, comma-separated (same user, password and vhost); the first that answers is used.",
        validation_alias=AliasChoices("AMQP_URL"),
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis: the read model, cancel requests and leases. With `REDIS_SENTINELS` set, "
        "only its user, password, database number and scheme apply (the sentinels name the host).",
        validation_alias=AliasChoices("REDIS_URL"),
    )
    redis_sentinels: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_SENTINELS"),
        description="Redis Sentinel addresses, `host:port` separated by commas: set, every service "
        "connects to the master they name and follows it through fail-overs.",
    )
    redis_sentinel_master: str = Field(
        "jobs",
        min_length=1,
        pattern=r"^\S+$",
        validation_alias=AliasChoices("REDIS_SENTINEL_MASTER"),
        description="The master's name in the sentinels' `sentinel monitor` line.",
    )
    redis_sentinel_password: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_SENTINEL_PASSWORD"),
        description="The sentinels' own password (their `requirepass`), if they have one; the "
        "master's password is `REDIS_URL`'s.",
    )
    publish_timeout: float = Field(
        10.0, description="Seconds to wait for a publisher confirm before giving up."
    )
    log_level: str = Field(
        "INFO", validation_alias=AliasChoices("LOG_LEVEL"), description="Python logging level name."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        validation_alias=AliasChoices("LOG_FORMAT"),
        description="`auto`: JSON lines unless stderr is a terminal.",
    )
    redis_timeout: float = Field(
        3.0,
        validation_alias=AliasChoices("REDIS_TIMEOUT"),
        description="Seconds a Redis call may take before it counts as Redis being unavailable.",
    )

    redis_max_connections: int = Field(
        64,
        validation_alias=AliasChoices("REDIS_MAX_CONNECTIONS"),
        description="Connections per process; callers beyond it wait (bounded, not one per request).",
    )
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector; traces go to its `/v1/traces`. Unset: no spans exported.",
    )
    otlp_traces_endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        description="Full OTLP/HTTP traces URL; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`.",
    )

    @property
    def otlp_traces_endpoint(self) -> str | None:
        """Where spans go, by the OpenTelemetry exporter's own rules for the two variables."""
        if self.otlp_traces_endpoint_url:
            return self.otlp_traces_endpoint_url
        if self.otlp_endpoint:
            return self.otlp_endpoint.rstrip("/") + "/v1/traces"
        return None

    @field_validator("redis_url")
    @classmethod
    def _redis_url_parses(cls, url: str) -> str:
        check_redis_url(url)
        return url

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels_parse(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in parse_sentinels(value))

    @model_validator(mode="after")
    def _sentinels_need_tcp(self) -> "CommonSettings":
        if self.redis_sentinels and self.redis_url.startswith("unix:"):
            raise ValueError("REDIS_SENTINELS needs a redis:// or rediss:// REDIS_URL, not a unix socket")
        return self

    def redis_target(self) -> RedisTarget:
        password = self.redis_sentinel_password
        return RedisTarget(
            self.redis_url,
            sentinels=parse_sentinels(self.redis_sentinels) if self.redis_sentinels else None,
            master=self.redis_sentinel_master,
            sentinel_password=password.get_secret_value() if password else None,
            timeout=self.redis_timeout,
            max_connections=self.redis_max_connections,
        )

    def redis(self) -> Redis:
        """The service's Redis client (a bounded pool), to the master when sentinels are set."""
        return self.redis_target().client()


class MetricsSettings(CommonSettings):
    """Prometheus /metrics on a listener of its own: a worker's only HTTP port, and the API's
    way to keep its metrics off the public port."""

    metrics_host: str = Field("127.0.0.1", description="Address of the /metrics listener.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it.")


class ConsumerSettings(MetricsSettings):
    """A consumer of job commands or events believes publishers by the same rules."""

    prefetch: int = Field(16, description="Unacked deliveries per process (its concurrency).")
    identity: IdentitySettings = Field(
        default_factory=IdentitySettings, description="Broker users (`JOBS_*` variables)."
    )

    def identities(self) -> PublisherIdentities:
        return PublisherIdentities.from_settings(self.identity)


class WorkerSettings(ConsumerSettings):
    """What every worker service reads, under its own prefix (e.g. `NER_MAX_ATTEMPTS`)."""

    time_limit: float = Field(3600.0, description="Seconds one attempt of a job may run.")
    max_attempts: int = Field(3, description="Attempts of a job that keeps failing transiently.")
    retry_base_delay: float = Field(
        1.0,
        description="Seconds before the 2nd attempt; doubles per attempt, with jitter (x0.5..1.0).",
    )
    retry_max_delay: float = Field(600.0, description="Longest delay between attempts, in seconds.")
    cancel_poll_interval: float = Field(0.5, description="Seconds between checks for cancel requests.")
    lease_after: float = Field(
        600.0,
        description="Seconds after which a running job's delivery is acked and a lease keeps it "
        "alive; keep it well below the broker's consumer_timeout (30 minutes by default).",
    )
    lease_ttl: float = Field(
        60.0,
        description="Seconds a lease lives without renewal; a dead owner's job restarts after about this.",
    )
    shutdown_grace: float = Field(
        25.0, description="Seconds running jobs get to finish on SIGTERM before being handed back."
    )
    result_inline_max_bytes: int = Field(
        DEFAULT_INLINE_MAX_BYTES,
        ge=0,
        validation_alias=AliasChoices("RESULT_INLINE_MAX_BYTES"),
        description="A result whose JSON is larger (bytes) is written to the file storage and its "
        "`succeeded` event carries a reference (docs/jobs.md#large-results); same for every worker.",
    )
    started_event_after: float = Field(
        2.0,
        ge=0.0,
        description="Seconds an attempt runs before its `started` event is published (with the "
        "time it really started). An attempt that ends sooner publishes only its `succeeded` or "
        "`failed`, carrying `started_at`: one message fewer per short job. Meanwhile the job "
        "reads `queued`. The time counts from delivery, so it includes the wait behind the "
        "worker's other prefetched jobs (about prefetch / jobs per second). 0 publishes "
        "`started` as each attempt starts.",
    )

    def runner_config(self) -> RunnerConfig:
        return RunnerConfig(
            retry_base_delay=self.retry_base_delay,
            retry_max_delay=self.retry_max_delay,
            cancel_poll_interval=self.cancel_poll_interval,
            lease_after=self.lease_after,
            lease_ttl=self.lease_ttl,
            started_event_after=self.started_event_after,
        )
