from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ConsumerSettings

__all__ = ["ProjectorSettings"]


class ProjectorSettings(ConsumerSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTOR_", extra="ignore")

    metrics_port: int = Field(
        9103, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it."
    )
    prefetch: int = Field(
        512, description="Unacked history records (and dead letters) in flight per projector process."
    )
    history_check_interval: float = Field(
        5.0,
        gt=0,
        le=10,
        description="Seconds between checks, while no records come, that Redis still holds the read "
        "model (its history offset); a lost or older read model is rebuilt from the job history.",
    )
    finished_job_ttl: int = Field(
        7 * 24 * 3600, description="Seconds a finished job stays readable (0 keeps it forever)."
    )
    redis_retry_max_delay: float = Field(
        5.0, description="Longest pause, in seconds, between attempts while Redis is unreachable."
    )
