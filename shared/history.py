"""The job history stream's retention, from the environment (every service declares the stream)."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["HistorySettings"]


class HistorySettings(BaseSettings):
    """Read by every service when it declares the topology. They apply when the stream is first
    declared; an existing stream keeps its arguments (change them with a policy, see
    docs/operations.md), and a service started with different values refuses to start."""

    model_config = SettingsConfigDict(extra="ignore")

    max_age: str = Field(
        "30D",
        pattern=r"^[0-9]+[YMDhms]$",
        validation_alias=AliasChoices("HISTORY_MAX_AGE"),
        description="How long the job history stream keeps a record: a number and a unit "
        "(Y, M, D, h, m, s), RabbitMQ's `x-max-age`.",
    )
    max_bytes: int = Field(
        50_000_000_000,
        gt=0,
        validation_alias=AliasChoices("HISTORY_MAX_BYTES"),
        description="Size cap of the job history stream in bytes (`x-max-length-bytes`).",
    )
