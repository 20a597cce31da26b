"""Settings every service reads; each service adds its own with an env prefix."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CommonSettings"]


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    amqp_url: str = Field("amqp://guest:guest@127.0.0.1:5672/", validation_alias=AliasChoices("AMQP_URL"))
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=AliasChoices("REDIS_URL"))
    publish_timeout: float = Field(
        10.0, description="Seconds to wait for a publisher confirm before giving up."
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL"))
