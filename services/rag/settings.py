from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.rag.embedding_settings import UsesEmbeddings
from shared.settings import WorkerSettings
from shared.storage import UsesStorage

__all__ = ["RagSettings"]


class RagSettings(WorkerSettings, UsesStorage, UsesEmbeddings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    metrics_port: int = Field(
        9106, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it."
    )
    prefetch: int = Field(4, ge=1, description="Jobs one process runs at once (unacked deliveries).")
    time_limit: float = Field(3600.0, gt=0, description="Seconds one attempt of a rag job may run.")

    # Searching: loaded collections stay in memory.
    memory_budget_mb: int = Field(
        2048,
        ge=1,
        description="Memory for collections loaded for search (vectors and texts, about 2.5 MB per "
        "1,000 chunks); beyond it the collection searched least recently is dropped.",
    )
    search_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Threads one search of a large collection (20,000 chunks or more) is spread over; "
        "its time goes to reading the vectors from memory, which one core does not saturate.",
    )
    warm_collections: int = Field(
        20,
        ge=0,
        description="At start, load this many of the collections searched last (within the budget), "
        "so the first searches after a restart do not wait for loading.",
    )

    # Reading PDFs (the OCR worker's limits and engine).
    max_pages: int = Field(500, ge=1, description="PDFs with more pages fail with `too_many_pages`.")
    render_dpi: int = Field(200, ge=50, le=600, description="Resolution scanned pages are rendered at.")
    max_image_pixels: int = Field(
        60_000_000, ge=1, description="Scanned pages are rendered at a lower resolution to stay under it."
    )
    ocr: bool = Field(True, description="OCR pages without a text layer (RapidOCR); off: they are skipped.")

    # Chunking, in words.
    chunk_words: int = Field(120, ge=10, le=2000, description="Largest chunk, in words (one page at most).")
    chunk_overlap: int = Field(
        20, ge=0, le=500, description="Words a chunk repeats from the end of the one before it on its page."
    )

    # Answers: any OpenAI-compatible Chat Completions endpoint, as for the LLM worker.
    llm_base_url: str | None = Field(
        None,
        description="e.g. https://api.openai.com/v1. Unset: `rag.ask` answers with the best passage "
        "(method `extractive`).",
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name as the provider knows it.")
    llm_api_key: SecretStr = Field(
        SecretStr("not-needed"), description="Bearer token; local servers usually ignore it."
    )
    llm_max_tokens: int = Field(512, ge=16, description="`max_tokens` of an answer.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds an answer may take, streaming included.")
    progress_interval: float = Field(
        0.2, ge=0.0, description="Seconds between progress events carrying the answer so far."
    )
