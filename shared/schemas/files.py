"""Uploaded files: what the API answers and what the storage keeps beside each file."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SUPPORTED_CONTENT_TYPES", "FileLink", "StoredFile"]

SUPPORTED_CONTENT_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "image/webp",
    "image/bmp",
)
"""Detected from the file's bytes; anything else is refused with 415."""


class StoredFile(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e",
                    "filename": "scan.pdf",
                    "content_type": "application/pdf",
                    "size": 482113,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "created_at": "2026-01-01T12:00:00Z",
                    "expires_at": "2026-01-31T12:00:00Z",
                }
            ]
        }
    )

    id: str
    filename: str = Field(description="As sent by the client (for display only).")
    content_type: str = Field(description="Detected from the bytes, not taken from the client.")
    size: int = Field(ge=0, description="Bytes.")
    sha256: str = Field(description="Hex digest of the content.")
    created_at: datetime
    expires_at: datetime | None = Field(
        None, description="From then on the file answers 404 and is deleted; null: kept until deleted."
    )


class FileLink(BaseModel):
    """A URL that opens one file without an API key, for a while: for browsers, whose links
    and new tabs cannot carry the `Authorization` header (the dashboard's source links)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "/v1/files/3f2b8c1d9e0a4b7c8d6e5f4a3b2c1d0e/content?ticket=Vb3k...",
                    "expires_at": "2026-01-01T12:15:00Z",
                }
            ]
        }
    )

    url: str = Field(
        description="The file's content, relative to the API's address; append `#page=N` to "
        "open a PDF at a page. Anyone holding it can read the file until `expires_at`."
    )
    expires_at: datetime
