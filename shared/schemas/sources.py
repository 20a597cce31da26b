"""Where an operation's text comes from: exactly one of `text` itself, `job_id` (a succeeded
job of the same tenant whose result has a top-level `text`, e.g. an OCR job, followed to the
file storage when that result is kept by reference) or `file_id` (an uploaded PDF's text
layer). Resolved by shared/sources.py; operations that take these are `takes_text`."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.schemas.commands import JobId

__all__ = ["TEXT_SOURCES", "TextSourceInput"]

TEXT_SOURCES = ("text", "file_id", "job_id")


class TextSourceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, description="The text itself.")
    job_id: JobId | None = Field(
        default=None,
        description="A succeeded job of the same tenant whose result has a `text` field (e.g. OCR).",
    )
    file_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="An uploaded PDF (its text layer)."
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Say in the schema what `_exactly_one_source` checks: one source that is not null."""
        schema = handler(core_schema)
        handler.resolve_ref_schema(schema)["oneOf"] = [
            {"required": [name], "properties": {name: {"type": "string"}}} for name in TEXT_SOURCES
        ]
        return schema

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        given = [name for name in TEXT_SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of text, file_id, job_id (got {len(given)})")
        return self
