"""Per-tenant limits of the API (rates and counts kept in Redis, shared by every API
process), as FastAPI dependencies; `services/api/limits.py` is the per-request body size.
The LLM token budget is the LLM worker's (services/llm/budget.py)."""
