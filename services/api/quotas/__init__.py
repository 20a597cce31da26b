"""Per-tenant limits of the API (rates and counts kept in Redis, shared by every API
process), as FastAPI dependencies; `services/api/limits.py` is the per-request body size.
The LLM token budget is the LLM worker's (services/llm/budget.py)."""

from services.api.quotas.checks import (
    STREAM_LIMITS,
    SUBMIT_LIMITS,
    QuotasDep,
    TenantQuotas,
    refusal,
    stream_refusal,
    stream_slot,
)

__all__ = [
    "STREAM_LIMITS",
    "SUBMIT_LIMITS",
    "QuotasDep",
    "TenantQuotas",
    "refusal",
    "stream_refusal",
    "stream_slot",
]
