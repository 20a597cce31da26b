"""Recognition quality on the generated test set, engine called directly."""

import io

import pytest
from PIL import Image

from services.ocr.engines import RapidOcrEngine
from tests.support.ocr_samples import character_error_rate, clean_renders, image_formats

MAX_CER = 0.02


def test_character_error_rate_on_clean_renders_is_at_most_2_percent(ocr_engine: RapidOcrEngine) -> None:
    errors = total = 0
    report = []
    for sample in clean_renders():
        found = ocr_engine.recognize(Image.open(io.BytesIO(sample.data)))
        edits, length = character_error_rate(found.text, sample.pages[0])
        errors, total = errors + edits, total + length
        report.append(f"{sample.name}: {edits}/{length} {found.text!r}")
        assert found.confidence is not None
        assert found.confidence > 0.8, report[-1]
        assert edits / length <= 0.05, report[-1]  # no single page far off, whatever the total
    print("\n".join(report))
    assert errors / total <= MAX_CER, f"CER {errors / total:.3%}:\n" + "\n".join(report)


@pytest.mark.parametrize("sample", image_formats()[:3], ids=lambda s: s.name)
def test_every_image_format_reads_the_same_text(ocr_engine: RapidOcrEngine, sample: object) -> None:
    found = ocr_engine.recognize(Image.open(io.BytesIO(sample.data)))  # type: ignore[attr-defined]
    edits, length = character_error_rate(found.text, sample.pages[0])  # type: ignore[attr-defined]
    assert edits / length <= 0.05, found.text  # the 2% bound is over the whole clean set


def test_a_blank_page_has_no_text(ocr_engine: RapidOcrEngine) -> None:
    found = ocr_engine.recognize(Image.new("L", (800, 600), 255))
    assert found.text == ""
    assert found.confidence is None
