from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings

__all__ = ["PipelineSettings"]


class PipelineSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_", extra="ignore")

    metrics_port: int = Field(
        9105, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it."
    )
    prefetch: int = Field(
        256, description="Pipelines one driver process runs at once (each mostly waits for its steps)."
    )
    time_limit: float = Field(
        86_400.0, description="Seconds one attempt of a pipeline may run, its steps' time included."
    )
    history_reader: str = Field(
        "pipeline",
        description="Name under which the driver keeps its offset in the job history "
        "(`jobs:history-offset:<name>`); replicas may share it.",
    )
    history_prefetch: int = Field(500, ge=1, description="Job-history records in flight per driver process.")
    history_save_every: float = Field(
        1.0,
        gt=0,
        description="Seconds between saves of the history offset (at most this much is read again).",
    )
    inline_result_bytes: int = Field(
        65_536,
        ge=0,
        description="A step's result up to this JSON size is copied into the pipeline's result; a larger "
        "one (an OCR text) is only linked (`result_url`).",
    )
    finished_job_ttl: int = Field(
        7 * 24 * 3600,
        description="Seconds a step's record stays readable when the driver writes it first; keep it "
        "equal to PROJECTOR_FINISHED_JOB_TTL. Also how long a pipeline's list of steps is kept.",
    )
    cancel_ttl: int = Field(
        7 * 24 * 3600, description="Seconds the cancel request of a step is remembered (as API_CANCEL_TTL)."
    )
