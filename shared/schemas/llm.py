"""Operations `llm.summarize` and `llm.extract`: long LLM work over a text.

The text comes from exactly one source (shared/schemas/sources.py): `text` itself, `job_id`
(a succeeded job of the same tenant whose result has a top-level `text`, e.g. an OCR job) or
`file_id` (an uploaded PDF). Results always say which model produced them and how many tokens it took.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.caller_schemas import check_schema
from shared.schemas.sources import TextSourceInput

__all__ = ["ExtractInput", "ExtractResult", "SummarizeInput", "SummarizeResult", "Usage"]


class _SourceInput(TextSourceInput):
    instructions: str | None = Field(
        default=None, max_length=4000, description="Extra guidance for the model (focus, tone, ...)."
    )


class SummarizeInput(_SourceInput):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "The quarterly report shows revenue up 12% ..."},
                {"job_id": "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a", "instructions": "Focus on risks."},
            ]
        },
    )


class ExtractInput(_SourceInput):
    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        # the API re-serialises a validated input before publishing it: keep the name `schema`
        serialize_by_alias=True,
        json_schema_extra={
            "examples": [
                {
                    "text": "Invoice 2024-118 from ACME GmbH, total 1,250.00 EUR, due 2024-07-01.",
                    "schema": {
                        "type": "object",
                        "properties": {
                            "invoice_number": {"type": "string"},
                            "total": {"type": "number"},
                            "currency": {"type": "string"},
                        },
                        "required": ["invoice_number", "total", "currency"],
                    },
                }
            ]
        },
    )

    # `schema` shadows a BaseModel attribute, hence the alias.
    json_schema: dict[str, Any] = Field(
        alias="schema",
        description="JSON Schema (draft 2020-12 unless `$schema` says otherwise). References only "
        "inside the schema (`#...`); regular expressions in RE2 syntax; at most 32 KiB, 32 levels "
        "of nesting and 1000 properties.",
    )

    @field_validator("json_schema")
    @classmethod
    def _is_a_usable_json_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_schema(value)  # SchemaRefused is a ValueError: a 422 naming the problem
        return value


class Usage(BaseModel):
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    estimated: bool = Field(
        default=False, description="True when the provider did not report usage and it was counted here."
    )


class SummarizeResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "summary": "Revenue rose 12% on strong services demand; margins held.",
                    "chunks": 3,
                    "model": "llama-3.1-8b-instruct",
                    "method": "map-reduce",
                    "usage": {"prompt_tokens": 9120, "completion_tokens": 610, "estimated": False},
                },
                {
                    "summary": "Revenue rose 12% in the quarter.",
                    "chunks": 1,
                    "model": "local-extractive-v1",
                    "method": "extractive",
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "estimated": False},
                },
            ]
        }
    )

    summary: str
    chunks: int = Field(ge=1, description="Pieces the text was split into to fit the model's context.")
    model: str = Field(description="The provider's model, or `local-extractive-v1` for the fallback.")
    method: Literal["map-reduce", "extractive"] = Field(
        description="`extractive`: no LLM endpoint is configured; sentences chosen from the text itself."
    )
    usage: Usage


class ExtractResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {"invoice_number": "2024-118", "total": 1250.0, "currency": "EUR"},
                    "chunks": 1,
                    "repairs": 0,
                    "model": "gpt-4o-mini",
                    "usage": {"prompt_tokens": 412, "completion_tokens": 38, "estimated": False},
                }
            ]
        }
    )

    data: Any = Field(description="JSON that validates against the input's schema.")
    chunks: int = Field(ge=1)
    repairs: int = Field(ge=0, description="Answers sent back to the model with validation errors.")
    model: str
    usage: Usage
