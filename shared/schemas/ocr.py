"""Operations `ocr.image` and `ocr.pdf`: the text of an uploaded file, page by page.

Inputs name a file uploaded with `POST /v1/files`; the job message carries that
reference, never the bytes. A file belongs to the tenant that uploaded it.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FILE_ID_PATTERN",
    "IMAGE_CONTENT_TYPES",
    "OcrImageInput",
    "OcrPage",
    "OcrPdfInput",
    "OcrResult",
]

FILE_ID_PATTERN = r"^[0-9a-f]{32}$"
"""File ids are uuid4 hex: safe as a path segment and an object key."""

IMAGE_CONTENT_TYPES = ("image/png", "image/jpeg", "image/tiff", "image/webp", "image/bmp")


_FILE_ID = Field(pattern=FILE_ID_PATTERN, description="Id returned by `POST /v1/files`.")


class OcrImageInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"file_id": "3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e"}]}
    )

    file_id: str = _FILE_ID


class OcrPdfInput(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"file_id": "3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e"}]}
    )

    file_id: str = _FILE_ID


class OcrPage(BaseModel):
    number: int = Field(ge=1, description="1-based page (or TIFF frame) number.")
    text: str = Field(description="Lines separated by newlines.")
    method: Literal["text-layer", "ocr"] = Field(
        description="`text-layer`: read from the PDF's own text; `ocr`: rendered and recognised."
    )
    confidence: float | None = Field(
        ge=0.0,
        le=1.0,
        description="Mean recognition confidence of the page's lines; 1.0 for a text layer, "
        "null for a page where nothing was found.",
    )


class OcrResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pages": [
                        {"number": 1, "text": "Invoice 2024-0193", "method": "text-layer", "confidence": 1.0},
                        {"number": 2, "text": "Total 1,234.56 EUR", "method": "ocr", "confidence": 0.97},
                    ],
                    "text": "Invoice 2024-0193\n\fTotal 1,234.56 EUR",
                    "engine": "rapidocr-onnxruntime-1.4.4",
                }
            ]
        }
    )

    pages: list[OcrPage]
    text: str = Field(description="Every page's text, pages separated by a form feed (`\\f`).")
    engine: str = Field(description="OCR engine and version (used for the pages with method `ocr`).")
