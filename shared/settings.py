"""Settings every service reads; each service adds its own with an env prefix."""

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import BlockingConnectionPool, Redis

from shared.identity import IdentitySettings, PublisherIdentities
from shared.worker.config import RunnerConfig

__all__ = ["CommonSettings", "ConsumerSettings", "MetricsSettings", "WorkerSettings"]


class CommonSettings(BaseSettings):
    """Every service reads these: the API, every worker and the projector."""

    model_config = SettingsConfigDict(extra="ignore")

    amqp_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ; its user is the `user_id` the service publishes with.",
        validation_alias=AliasChoices("AMQP_URL"),
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis: the read model, cancel requests and leases.",
        validation_alias=AliasChoices("REDIS_URL"),
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

    def redis(self) -> Redis:
        pool = BlockingConnectionPool.from_url(
            self.redis_url,
            max_connections=self.redis_max_connections,
            timeout=self.redis_timeout,
            decode_responses=True,
            socket_timeout=self.redis_timeout,
            socket_connect_timeout=self.redis_timeout,
            health_check_interval=30,
        )
        return Redis(connection_pool=pool)


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
