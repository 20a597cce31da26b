import os
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings
from shared.storage import UsesStorage

__all__ = ["OcrSettings"]


class OcrSettings(WorkerSettings, UsesStorage):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    metrics_port: int = Field(
        9104, ge=0, le=65535, description="Port of the /metrics listener; 0 disables it."
    )

    engine: Literal["rapidocr", "tesseract"] = Field(
        "rapidocr", description="`rapidocr` (models inside the wheel) or `tesseract` (needs its binary)."
    )
    concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Pages OCRed at once per process (threads), across all its jobs; "
        "default: the number of CPUs.",
    )
    engine_threads: int = Field(
        1, ge=1, description="ONNX Runtime threads per page; concurrency x this should match the cores."
    )
    max_pages: int = Field(500, ge=1, description="Documents with more pages fail with `too_many_pages`.")
    max_image_pixels: int = Field(
        60_000_000,
        ge=1,
        description="Larger images fail with `image_too_large` (decompression bombs); PDF pages "
        "are rendered at a lower resolution to stay under it.",
    )
    render_dpi: int = Field(200, ge=50, le=600, description="Resolution scanned PDF pages are rendered at.")
    prefetch: int = Field(4, ge=1, description="Jobs one process runs at once (unacked deliveries).")
    time_limit: float = Field(3600.0, description="Seconds one attempt of an OCR job may run.")
