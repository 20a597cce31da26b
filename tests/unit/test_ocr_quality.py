"""Recognition quality on the generated test set, each engine called directly: RapidOCR (the
default, models in the wheel) and Tesseract (`OCR_ENGINE=tesseract`; Debian's `tesseract-ocr`,
installed by `make system-packages`)."""

import io
import shutil

import pytest
from PIL import Image

from services.ocr.engines import OcrEngine, RapidOcrEngine, TesseractEngine
from tests.support.ocr_samples import character_error_rate, clean_renders, image_formats

MAX_CER = 0.02


@pytest.fixture(scope="module", params=["rapidocr", "tesseract"])
def engine(request: pytest.FixtureRequest, ocr_engine: RapidOcrEngine) -> OcrEngine:
    if request.param == "rapidocr":
        return ocr_engine
    if shutil.which("tesseract") is None:
        pytest.fail("no `tesseract` binary: run `make system-packages` (Debian's tesseract-ocr)")
    return TesseractEngine()


def test_character_error_rate_on_clean_renders_is_at_most_2_percent(engine: OcrEngine) -> None:
    errors = total = 0
    report = []
    for sample in clean_renders():
        found = engine.recognize(Image.open(io.BytesIO(sample.data)))
        edits, length = character_error_rate(found.text, sample.pages[0])
        errors, total = errors + edits, total + length
        report.append(f"{sample.name}: {edits}/{length} {found.text!r}")
        if isinstance(engine, RapidOcrEngine):  # Tesseract's plain-text output has no confidence
            assert found.confidence is not None
            assert found.confidence > 0.8, report[-1]
        assert edits / length <= 0.05, report[-1]  # no single page far off, whatever the total
    print("\n".join(report))
    assert errors / total <= MAX_CER, f"CER {errors / total:.3%}:\n" + "\n".join(report)


@pytest.mark.parametrize("sample", image_formats()[:3], ids=lambda s: s.name)
def test_every_image_format_reads_the_same_text(engine: OcrEngine, sample: object) -> None:
    found = engine.recognize(Image.open(io.BytesIO(sample.data)))  # type: ignore[attr-defined]
    edits, length = character_error_rate(found.text, sample.pages[0])  # type: ignore[attr-defined]
    assert edits / length <= 0.05, found.text  # the 2% bound is over the whole clean set


def test_a_blank_page_has_no_text(engine: OcrEngine) -> None:
    found = engine.recognize(Image.new("L", (800, 600), 255))
    assert found.text == ""
    assert found.confidence is None
