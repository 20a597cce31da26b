"""Which embedder the RAG worker uses, and how it talks to an endpoint (`EMBEDDINGS_*`)."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["EmbeddingSettings", "UsesEmbeddings"]


class EmbeddingSettings(BaseSettings):
    """The embedder: the bundled local model unless `EMBEDDINGS_BASE_URL` names an endpoint."""

    model_config = SettingsConfigDict(env_prefix="EMBEDDINGS_", extra="ignore")

    base_url: str | None = Field(
        None,
        description="An OpenAI-compatible embeddings server, e.g. https://api.openai.com/v1, "
        "http://vllm:8000/v1, http://ollama:11434/v1. Unset: the bundled all-MiniLM-L6-v2 (int8, "
        "384 dimensions, on the CPU).",
    )
    model: str = Field("text-embedding-3-small", description="Endpoint: the model name it knows.")
    api_key: SecretStr = Field(
        SecretStr("not-needed"), description="Endpoint: bearer token; local servers usually ignore it."
    )
    dimensions: int | None = Field(
        None,
        ge=1,
        description="Endpoint: ask for vectors this long (`dimensions`; only some models take it). "
        "Unset: the model's own length, learnt from the first answer.",
    )
    batch_size: int = Field(
        32, ge=1, le=2048, description="Texts per model run (local) or per request (endpoint)."
    )
    local_threads: int = Field(
        0, ge=0, description="Local model: CPU threads of one run; 0 lets onnxruntime choose (all cores)."
    )
    # Behaviour under faults, as the LLM provider's (LLM_*): seconds unless said otherwise.
    connect_timeout: float = Field(10.0, gt=0, description="Endpoint: longest wait to connect.")
    timeout: float = Field(60.0, gt=0, description="Endpoint: longest one request may take.")
    attempts: int = Field(5, ge=1, description="Endpoint: attempts per request on 429, 5xx, timeouts.")
    backoff_base: float = Field(1.0, gt=0, description="Endpoint: first retry delay; doubles, jittered.")
    backoff_max: float = Field(
        30.0, gt=0, description="Endpoint: cap on one retry delay; a longer Retry-After gives up."
    )


class UsesEmbeddings(BaseSettings):
    """Mixed into the settings of a service that embeds (the RAG worker)."""

    embeddings: EmbeddingSettings = Field(
        default_factory=EmbeddingSettings, description="The embedder (`EMBEDDINGS_*` variables)."
    )
