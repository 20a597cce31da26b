"""Opening uploaded documents and turning each page into text or an image to OCR.

Shared by the OCR worker (every page) and the LLM worker (the text layer of a PDF input).
Everything here is blocking and not thread-safe (PDFium and Pillow image objects): callers
run it on one dedicated thread. Every way a file can be bad ends in a `JobFailure` with its
own code.
"""

import io
import warnings
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from shared.worker import JobFailure

__all__ = ["ImageDocument", "PageContent", "PdfDocument", "pdf_text"]

POINTS_PER_INCH = 72


@dataclass(frozen=True)
class PageContent:
    text: str | None
    """The page's text layer, or None when it has none and must be OCRed."""
    image: Image.Image | None


def _corrupt(kind: str, exc: Exception) -> JobFailure:
    return JobFailure("corrupt_file", f"the file is not a readable {kind} ({type(exc).__name__}: {exc})")


def _too_many(pages: int, max_pages: int) -> JobFailure:
    return JobFailure("too_many_pages", f"the document has {pages} pages; the limit is {max_pages}")


class PdfDocument:
    def __init__(self, data: bytes, *, max_pages: int, max_pixels: int = 60_000_000, dpi: int = 200) -> None:
        """`max_pixels` and `dpi` only matter to `page()` on a scanned page (rendering)."""
        try:
            self._pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise _load_failure(data, exc) from exc
        self.pages = len(self._pdf)
        if self.pages == 0:
            self.close()
            raise JobFailure("empty_document", "the PDF has no pages")
        if self.pages > max_pages:
            self.close()
            raise _too_many(self.pages, max_pages)
        self._max_pixels = max_pixels
        self._dpi = dpi

    def text_layer(self, index: int) -> str | None:
        """The page's text layer, or None when it has none (a scan)."""
        try:
            page = self._pdf[index]
            try:
                return self._text_of(page)
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise JobFailure("corrupt_file", f"page {index + 1} cannot be read ({exc})") from exc

    @staticmethod
    def _text_of(page: pdfium.PdfPage) -> str | None:
        textpage = page.get_textpage()
        text = textpage.get_text_bounded()
        textpage.close()
        return _normalise(text) if text.strip() else None

    def page(self, index: int) -> PageContent:
        try:
            page = self._pdf[index]
            try:
                text = self._text_of(page)
                if text is not None:
                    return PageContent(text, None)
                width, height = page.get_size()  # points
                scale = self._dpi / POINTS_PER_INCH
                if width * height * scale * scale > self._max_pixels:
                    # A huge page is rendered coarser rather than refused.
                    scale = (self._max_pixels / (width * height)) ** 0.5
                image = page.render(scale=scale, grayscale=True).to_pil()
                return PageContent(None, image)
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise JobFailure("corrupt_file", f"page {index + 1} cannot be read ({exc})") from exc

    def close(self) -> None:
        self._pdf.close()


def _load_failure(data: bytes, exc: pdfium.PdfiumError) -> JobFailure:
    # PDFium's last-error code is process-global and a failed load does not always
    # set it (an empty page tree leaves the previous code, or 0), so it is checked
    # against the file itself.
    code = getattr(exc, "err_code", None)
    if code == pdfium.raw.FPDF_ERR_PASSWORD and b"/Encrypt" in data:
        return JobFailure("encrypted_pdf", "the PDF is password-protected")
    if code in (pdfium.raw.FPDF_ERR_SUCCESS, pdfium.raw.FPDF_ERR_PASSWORD):
        return JobFailure("empty_document", "the PDF has no pages PDFium can read")
    return _corrupt("PDF", exc)


def _normalise(text: str) -> str:
    lines = (line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return "\n".join(lines).strip()


class ImageDocument:
    """An image file; a multi-frame TIFF (or animated WebP) has one page per frame."""

    def __init__(self, data: bytes, *, max_pages: int, max_pixels: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                self._image = Image.open(io.BytesIO(data))
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
                raise _corrupt("image", exc) from exc
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise JobFailure("image_too_large", str(exc)) from exc
        self.pages = int(getattr(self._image, "n_frames", 1))
        if self.pages > max_pages:
            raise _too_many(self.pages, max_pages)
        self._max_pixels = max_pixels

    def page(self, index: int) -> PageContent:
        try:
            self._image.seek(index)
            width, height = self._image.size
            if width * height > self._max_pixels:
                raise JobFailure(
                    "image_too_large",
                    f"page {index + 1} is {width}x{height} pixels; the limit is {self._max_pixels} pixels",
                )
            frame = self._image.copy()  # decodes the frame: truncation shows up here
            frame.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _corrupt("image", exc) from exc
        return PageContent(None, frame)

    def close(self) -> None:
        self._image.close()


def pdf_text(data: bytes, *, max_pages: int, needed_by: str) -> str:
    """The text layer of every page of a PDF, pages separated by a blank line. A scanned page
    (no text layer) fails `file_needs_ocr`: its text needs `ocr.pdf` first."""
    document = PdfDocument(data, max_pages=max_pages)
    try:
        pages = []
        for index in range(document.pages):
            text = document.text_layer(index)
            if text is None:
                raise JobFailure(
                    "file_needs_ocr",
                    f"page {index + 1} of {document.pages} is a scan (no text layer): run `ocr.pdf` "
                    f"on the file and give {needed_by} that job's id as `job_id`",
                )
            pages.append(text)
        return "\n\n".join(pages)
    finally:
        document.close()
