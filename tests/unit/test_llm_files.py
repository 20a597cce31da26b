"""LLM operations on an uploaded PDF (`file_id`): its text layer is the text; anything that
needs OCR first fails with a code that says so. Local storage, no provider (the local
extractive summarizer), real PDFs."""

import io
import re
from pathlib import Path

import pytest

from shared.files import FileCatalog
from shared.schemas import StoredFile
from shared.schemas.llm import SummarizeInput, SummarizeResult
from shared.storage import LocalStorage
from shared.worker import JobFailure
from tests.support.llm import RecordingContext, settings, summarizer
from tests.support.ocr_samples import born_digital_pdf, image_formats, scanned_pdf


@pytest.fixture
def files(tmp_path: Path) -> FileCatalog:
    return FileCatalog(LocalStorage(tmp_path))


async def _upload(files: FileCatalog, tenant: str, name: str, data: bytes, content_type: str) -> StoredFile:
    return await files.add(
        tenant,
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256="0" * 64,
        source=io.BytesIO(data),
    )


async def _summarize(files: FileCatalog, file_id: str) -> SummarizeResult:
    """`llm.summarize` of an upload for tenant "t", with no provider (the local summarizer)."""
    return await summarizer(settings(None), files=files).run(
        SummarizeInput(file_id=file_id), RecordingContext(tenant="t")
    )


async def test_a_pdf_with_a_text_layer_is_summarized_from_its_text(files: FileCatalog) -> None:
    pdf = born_digital_pdf()
    stored = await _upload(files, "t", pdf.name, pdf.data, "application/pdf")
    result = await _summarize(files, stored.id)
    assert result.method == "extractive"
    words = set(re.findall(r"\w+", " ".join(pdf.pages)))
    summary_words = re.findall(r"\w+", result.summary)
    assert summary_words, "an empty summary"
    assert set(summary_words) <= words, "the summary is not made of the PDF's own sentences"


async def test_a_scanned_pdf_asks_for_ocr_first(files: FileCatalog) -> None:
    pdf = scanned_pdf()
    stored = await _upload(files, "t", pdf.name, pdf.data, "application/pdf")
    with pytest.raises(JobFailure) as failure:
        await _summarize(files, stored.id)
    assert failure.value.code == "file_needs_ocr"
    assert "page 1 of 2" in failure.value.message
    assert "ocr.pdf" in failure.value.message


async def test_an_image_or_another_tenants_file_is_refused(files: FileCatalog) -> None:
    image = image_formats()[0]
    stored_image = await _upload(files, "t", image.name, image.data, "image/jpeg")
    with pytest.raises(JobFailure) as failure:
        await _summarize(files, stored_image.id)
    assert failure.value.code == "unsupported_file_type"
    pdf = born_digital_pdf()
    theirs = await _upload(files, "other", pdf.name, pdf.data, "application/pdf")
    with pytest.raises(JobFailure) as failure:
        await _summarize(files, theirs.id)
    assert failure.value.code == "file_not_found"
