from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ConsumerSettings

__all__ = ["ProjectorSettings"]


class ProjectorSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTOR_", extra="ignore")

    metrics_port: int = Field(
        9103, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it."
    )
    prefetch: int = Field(256, description="Unacked events in flight per projector process.")
    finished_job_ttl: int = Field(
        7 * 24 * 3600, description="Seconds a finished job stays readable (0 keeps it forever)."
    )
    redis_retry_max_delay: float = Field(
        5.0, description="Longest pause, in seconds, between attempts while Redis is unreachable."
    )
