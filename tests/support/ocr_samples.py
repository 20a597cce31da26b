"""The generated OCR test set: text rendered into images and PDFs, and files that
are bad in every way the OCR worker must survive. Everything is made here from
known text (nothing downloaded), so the expected output is exact.

`python scripts/make_ocr_testset.py DIR` writes the whole set to a directory.
"""

import io
import struct
import zlib
from dataclasses import dataclass

import pypdfium2 as pdfium
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

PARAGRAPHS = (
    (
        "The quick brown fox jumps over the lazy dog.",
        "Invoice 2024-0193: total 1,234.56 EUR due on 15 March.",
        "Pack my box with five dozen liquor jugs!",
    ),
    (
        "Sphinx of black quartz, judge my vow.",
        "Contact: support@example.com or +44 20 7946 0958",
        "Shipment 7 of 12 left Rotterdam on Friday morning.",
    ),
    (
        "Grumpy wizards make toxic brew for the evil queen.",
        "Order number 58213 was paid by card ending 4417.",
        "Please return the signed copy before 30 June 2025.",
    ),
)
"""One paragraph per page; lines short enough for any render size used here."""

CLEAN_SIZES = (28, 36, 48)
"""Text heights in pixels: 10-12 pt type scanned at 200-300 DPI."""


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    pages: tuple[str, ...]
    """Expected text of each page, lines joined by newlines."""


def render_page(lines: tuple[str, ...], size: int) -> Image.Image:
    """Black text on white, in the font Pillow itself ships (no system fonts needed)."""
    font = ImageFont.load_default(size)
    width = int(max(font.getlength(line) for line in lines)) + 2 * size
    height = int(len(lines) * size * 1.8) + 2 * size
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((size, size + number * size * 1.8), line, fill=0, font=font)
    return image


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def clean_renders() -> list[Sample]:
    """The CER set: every paragraph at every size, as PNG."""
    return [
        Sample(f"clean-{size}px-{n}.png", _encode(render_page(lines, size), "PNG"), ("\n".join(lines),))
        for size in CLEAN_SIZES
        for n, lines in enumerate(PARAGRAPHS, start=1)
    ]


def image_formats() -> list[Sample]:
    """One page in each supported image format, and a two-frame TIFF (two pages)."""
    lines = PARAGRAPHS[0]
    page = render_page(lines, 36)
    text = ("\n".join(lines),)
    second = render_page(PARAGRAPHS[1], 36)
    return [
        Sample("page.jpg", _encode(page.convert("RGB"), "JPEG", quality=92), text),
        Sample("page.webp", _encode(page.convert("RGB"), "WEBP", lossless=True), text),
        Sample("page.bmp", _encode(page, "BMP"), text),
        Sample(
            "two-pages.tiff",
            _encode(page, "TIFF", save_all=True, append_images=[second], compression="tiff_lzw"),
            (text[0], "\n".join(PARAGRAPHS[1])),
        ),
    ]


def scanned_pdf(paragraphs: tuple[tuple[str, ...], ...] = PARAGRAPHS[:2]) -> Sample:
    """Pages that are only images (no text layer), like a scanner's output."""
    pages = [render_page(lines, 36).convert("RGB") for lines in paragraphs]
    data = _encode(pages[0], "PDF", save_all=True, append_images=pages[1:], resolution=200.0)
    return Sample("scanned.pdf", data, tuple("\n".join(lines) for lines in paragraphs))


def born_digital_pdf(
    paragraphs: tuple[tuple[str, ...], ...] = PARAGRAPHS, name: str = "digital.pdf"
) -> Sample:
    """Pages with a real text layer (as a word processor writes them)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for lines in paragraphs:
        pdf.add_page()
        for line in lines:
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return Sample(name, bytes(pdf.output()), tuple("\n".join(lines) for lines in paragraphs))


def mixed_pdf() -> Sample:
    """A born-digital page followed by a scanned one: one page per method."""
    digital = pdfium.PdfDocument(born_digital_pdf(PARAGRAPHS[:1]).data)
    digital.import_pages(pdfium.PdfDocument(scanned_pdf(PARAGRAPHS[1:2]).data))
    out = io.BytesIO()
    digital.save(out)
    return Sample("mixed.pdf", out.getvalue(), ("\n".join(PARAGRAPHS[0]), "\n".join(PARAGRAPHS[1])))


def encrypted_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="locked")
    return bytes(pdf.output())


def empty_pdf() -> bytes:
    out = io.BytesIO()
    pdfium.PdfDocument.new().save(out)
    return out.getvalue()


def decompression_bomb_png(side: int = 100_000) -> bytes:
    """A valid PNG header claiming side x side pixels (10 gigapixels by default), a few bytes long."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * (side // 8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * 4))
        + chunk(b"IEND", b"")
    )


def truncated_png() -> bytes:
    data = _encode(render_page(PARAGRAPHS[0], 36), "PNG")
    return data[: len(data) // 2]


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n" + b"\x00garbage that is no PDF object\n" * 20


def bad_files() -> dict[str, tuple[str, bytes]]:
    """name -> (error code the job must end with, file bytes)."""
    return {
        "truncated.png": ("corrupt_file", truncated_png()),
        "corrupt.pdf": ("corrupt_file", corrupt_pdf()),
        "encrypted.pdf": ("encrypted_pdf", encrypted_pdf()),
        "empty.pdf": ("empty_document", empty_pdf()),
        "bomb.png": ("image_too_large", decompression_bomb_png()),
    }


def character_error_rate(found: str, expected: str) -> tuple[int, int]:
    """(edit distance, reference length) over whitespace-normalised text: runs of spaces
    and line breaks count as one space, so a dropped or extra space is an error but a
    line joined differently is not."""
    a, b = " ".join(found.split()), " ".join(expected.split())
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1], len(b)
