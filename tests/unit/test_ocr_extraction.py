"""The OCR domain code on real files from the generated set: text layers, scanned
pages, one progress event per page, and every kind of bad input with its own code."""

import asyncio
import io

import pytest

from services.ocr.extraction import TextExtractor
from shared.files import FileCatalog
from shared.schemas import OcrImageInput, OcrPdfInput, Progress
from shared.worker import JobFailure
from tests.support import ocr_samples
from tests.support.ocr_samples import character_error_rate
from tests.unit.ocr_fixtures import job_context


async def upload(catalog: FileCatalog, tenant: str, data: bytes, content_type: str) -> str:
    info = await catalog.add(
        tenant, filename="f", content_type=content_type, size=len(data), sha256="0", source=io.BytesIO(data)
    )
    return info.id


async def test_a_born_digital_pdf_is_read_exactly_from_its_text_layer(
    extractor: TextExtractor, catalog: FileCatalog
) -> None:
    sample = ocr_samples.born_digital_pdf()
    file_id = await upload(catalog, "acme", sample.data, "application/pdf")
    ctx, recorded = job_context("acme", "ocr.pdf", {"file_id": file_id})
    result = await extractor.run_pdf(OcrPdfInput(file_id=file_id), ctx)
    assert [p.text for p in result.pages] == list(sample.pages)
    assert {p.method for p in result.pages} == {"text-layer"}
    assert result.text == "\n\f".join(sample.pages)
    progress = [e for e in recorded.events if isinstance(e, Progress)]
    assert [e.message for e in progress] == ["page 1 of 3", "page 2 of 3", "page 3 of 3"]
    assert [round(e.fraction, 3) for e in progress] == [0.333, 0.667, 1.0]


async def test_a_mixed_pdf_reads_its_text_layer_and_ocrs_its_scanned_page(
    extractor: TextExtractor, catalog: FileCatalog
) -> None:
    sample = ocr_samples.mixed_pdf()
    file_id = await upload(catalog, "acme", sample.data, "application/pdf")
    ctx, _ = job_context("acme", "ocr.pdf", {"file_id": file_id})
    result = await extractor.run_pdf(OcrPdfInput(file_id=file_id), ctx)
    assert [p.method for p in result.pages] == ["text-layer", "ocr"]
    assert result.pages[0].text == sample.pages[0]
    edits, length = character_error_rate(result.pages[1].text, sample.pages[1])
    assert edits / length <= 0.02, result.pages[1].text
    assert result.engine.startswith("rapidocr-onnxruntime-")


async def test_a_two_frame_tiff_is_two_pages(extractor: TextExtractor, catalog: FileCatalog) -> None:
    sample = next(s for s in ocr_samples.image_formats() if s.name.endswith(".tiff"))
    file_id = await upload(catalog, "acme", sample.data, "image/tiff")
    ctx, recorded = job_context("acme", "ocr.image", {"file_id": file_id})
    result = await extractor.run_image(OcrImageInput(file_id=file_id), ctx)
    assert [p.number for p in result.pages] == [1, 2]
    for page, expected in zip(result.pages, sample.pages, strict=True):
        edits, length = character_error_rate(page.text, expected)
        assert edits / length <= 0.05, page.text
    assert sum(isinstance(e, Progress) for e in recorded.events) == 2


@pytest.mark.parametrize(
    ("name", "code", "data"), [(n, c, d) for n, (c, d) in ocr_samples.bad_files().items()]
)
async def test_bad_files_fail_with_their_own_code(
    extractor: TextExtractor, catalog: FileCatalog, name: str, code: str, data: bytes
) -> None:
    is_pdf = name.endswith(".pdf")
    file_id = await upload(catalog, "acme", data, "application/pdf" if is_pdf else "image/png")
    ctx, _ = job_context("acme", "ocr.pdf" if is_pdf else "ocr.image", {"file_id": file_id})
    run = (
        extractor.run_pdf(OcrPdfInput(file_id=file_id), ctx)
        if is_pdf
        else extractor.run_image(OcrImageInput(file_id=file_id), ctx)
    )
    with pytest.raises(JobFailure) as failure:
        await run
    assert failure.value.code == code, failure.value.message


async def test_more_pages_than_the_limit_fail_before_any_work(
    extractor: TextExtractor, catalog: FileCatalog
) -> None:
    six_pages = ocr_samples.born_digital_pdf(ocr_samples.PARAGRAPHS * 2)  # the fixture allows 5
    file_id = await upload(catalog, "acme", six_pages.data, "application/pdf")
    ctx, recorded = job_context("acme", "ocr.pdf", {"file_id": file_id})
    with pytest.raises(JobFailure) as failure:
        await extractor.run_pdf(OcrPdfInput(file_id=file_id), ctx)
    assert failure.value.code == "too_many_pages"
    assert "6 pages" in failure.value.message
    assert recorded.events == []


async def test_another_tenants_file_is_not_found(extractor: TextExtractor, catalog: FileCatalog) -> None:
    file_id = await upload(catalog, "acme", ocr_samples.born_digital_pdf().data, "application/pdf")
    ctx, _ = job_context("globex", "ocr.pdf", {"file_id": file_id})
    with pytest.raises(JobFailure) as failure:
        await extractor.run_pdf(OcrPdfInput(file_id=file_id), ctx)
    assert failure.value.code == "file_not_found"


async def test_a_pdf_given_to_ocr_image_is_refused(extractor: TextExtractor, catalog: FileCatalog) -> None:
    file_id = await upload(catalog, "acme", ocr_samples.born_digital_pdf().data, "application/pdf")
    ctx, _ = job_context("acme", "ocr.image", {"file_id": file_id})
    with pytest.raises(JobFailure) as failure:
        await extractor.run_image(OcrImageInput(file_id=file_id), ctx)
    assert failure.value.code == "unsupported_file_type"


async def test_ocr_runs_off_the_event_loop(extractor: TextExtractor, catalog: FileCatalog) -> None:
    """While pages are rendered and recognised, the loop keeps ticking (heartbeats, acks)."""
    sample = ocr_samples.scanned_pdf()
    file_id = await upload(catalog, "acme", sample.data, "application/pdf")
    ctx, _ = job_context("acme", "ocr.pdf", {"file_id": file_id})
    loop = asyncio.get_running_loop()
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - before - 0.01)

    ticking = asyncio.create_task(ticker())
    started = loop.time()
    result = await extractor.run_pdf(OcrPdfInput(file_id=file_id), ctx)
    elapsed = loop.time() - started
    done.set()
    await ticking
    assert [p.method for p in result.pages] == ["ocr", "ocr"]
    # OCR on the loop would stall it for a whole page (half the run, two pages); in a thread the
    # worst gap is a GIL switch or a busy machine's scheduling, a few ms against ~100+ ms a page
    stalled = f"the event loop stalled for {worst:.3f}s during {elapsed:.3f}s of OCR"
    assert worst < elapsed / 6, stalled
