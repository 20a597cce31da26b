from collections.abc import Iterator
from pathlib import Path

import pytest

from services.ocr.engines import RapidOcrEngine
from services.ocr.extraction import TextExtractor
from shared.files import FileCatalog
from shared.storage import LocalStorage


@pytest.fixture(scope="session")
def ocr_engine() -> RapidOcrEngine:
    return RapidOcrEngine(threads=1)


@pytest.fixture
def catalog(tmp_path: Path) -> FileCatalog:
    return FileCatalog(LocalStorage(tmp_path / "files"))


@pytest.fixture
def extractor(ocr_engine: RapidOcrEngine, catalog: FileCatalog) -> Iterator[TextExtractor]:
    built = TextExtractor(
        ocr_engine, catalog, concurrency=2, max_pages=5, max_image_pixels=20_000_000, render_dpi=200
    )
    yield built
    built.close()
