"""OCR engines behind one small protocol; each loads its model once per process.

`recognize` is blocking and thread-safe: the caller runs it on a thread pool.
"""

import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Protocol

import numpy as np
from PIL import Image

__all__ = ["OcrEngine", "RapidOcrEngine", "RecognizedText", "TesseractEngine", "restore_spaces"]


@dataclass(frozen=True)
class RecognizedText:
    text: str
    confidence: float | None
    """Mean line confidence in [0, 1]; None when the engine does not give one or found nothing."""


class OcrEngine(Protocol):
    name: str

    def recognize(self, image: Image.Image) -> RecognizedText: ...


MIN_LINE_SCORE = 0.5
"""Lines recognised with less confidence are noise (specks, rules, photos), not text."""

SPACE_GAP = 0.2
"""A blank stretch wider than this fraction of the line's ink height is a word space."""

CTC_STRIDE = 8
"""PP-OCR's recogniser emits one CTC column per 8 pixels of its 48-pixel-high input."""


def restore_spaces(text: str, columns: list[int], line: np.ndarray) -> str:
    """Put back word spaces the recogniser dropped.

    The bundled PP-OCRv4 model (trained mostly on Chinese) often drops the spaces
    of proportional Latin text. Between two characters it emitted, a space is
    inserted when the image has a blank gap wider than `SPACE_GAP` of the ink height
    there and the characters sit more than 3 CTC columns apart (the second test
    keeps the wide side bearings of narrow glyphs such as `1` from counting).
    `columns` are the CTC positions of `text`'s characters; `line` is the grey crop.
    """
    if len(text) < 2 or len(columns) != len(text):
        return text
    ink = line < (float(line.min()) + float(line.max())) / 2
    rows = np.flatnonzero(ink.any(axis=1))
    ink_height = rows[-1] - rows[0] + 1 if len(rows) else line.shape[0]
    inked_columns: np.ndarray = np.asarray(ink.any(axis=0))
    scale = line.shape[0] / 48 * CTC_STRIDE
    xs = [int((c + 0.5) * scale) for c in columns]
    out = [text[0]]
    for i in range(1, len(text)):
        candidate = text[i] != " " and text[i - 1] != " " and columns[i] - columns[i - 1] > 3
        if candidate and _longest_blank_run(inked_columns[xs[i - 1] : xs[i]]) > SPACE_GAP * ink_height:
            out.append(" ")
        out.append(text[i])
    return "".join(out)


def _longest_blank_run(inked: np.ndarray) -> int:
    best = run = 0
    for has_ink in inked:
        run = 0 if has_ink else run + 1
        best = max(best, run)
    return best


def _lines(boxes: list[Any], texts: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Join boxes that sit on the same text line, left to right; lines top to bottom."""
    items = sorted(
        (
            (float(np.mean(box[:, 1])), float(np.min(box[:, 0])), float(np.ptp(box[:, 1])), text, score)
            for box, (text, score) in zip(boxes, texts, strict=True)
            if score >= MIN_LINE_SCORE and text.strip()
        ),
    )
    lines: list[list[tuple[float, str, float]]] = []
    centre = height = 0.0
    for y, x, h, text, score in items:
        if lines and abs(y - centre) < 0.5 * max(height, h):
            lines[-1].append((x, text, score))
        else:
            lines.append([(x, text, score)])
            centre, height = y, h
    joined = []
    for parts in lines:
        parts.sort()
        joined.append((" ".join(t for _, t, _ in parts), float(np.mean([s for _, _, s in parts]))))
    return joined


class RapidOcrEngine:
    """RapidOCR (PP-OCRv4 detection and recognition on ONNX Runtime, models in the wheel)."""

    def __init__(self, threads: int = 1) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.name = f"rapidocr-onnxruntime-{version('rapidocr-onnxruntime')}"
        self._ocr: Any = RapidOCR(
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            # Document pages: bound the longest side (the default scales the shortest
            # side up to 736, which makes a page many times slower for no gain).
            det_limit_type="max",
            det_limit_side_len=2000,
        )

    def recognize(self, image: Image.Image) -> RecognizedText:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        boxes, _ = self._ocr.text_det(bgr)
        if boxes is None or len(boxes) == 0:
            return RecognizedText("", None)
        boxes = self._ocr.sorted_boxes(boxes)
        crops = self._ocr.get_crop_img_list(bgr, boxes)
        recognised, _ = self._ocr.text_rec(crops, True)
        texts = []
        for crop, (text, score, info) in zip(crops, recognised, strict=True):
            columns = [c for word in info[2] for c in word]
            texts.append((restore_spaces(text, columns, crop.mean(axis=2)), float(score)))
        lines = _lines(boxes, texts)
        if not lines:
            return RecognizedText("", None)
        return RecognizedText("\n".join(t for t, _ in lines), float(np.mean([s for _, s in lines])))


class TesseractEngine:
    """The `tesseract` binary, when installed (not a Python dependency of the project)."""

    def __init__(self, language: str = "eng") -> None:
        binary = shutil.which("tesseract")
        if binary is None:
            raise RuntimeError("OCR_ENGINE=tesseract but no `tesseract` binary is on PATH")
        self._binary = binary
        self._language = language
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True, timeout=30)
        self.name = (out.stdout or out.stderr).splitlines()[0].strip().replace(" ", "-")

    def recognize(self, image: Image.Image) -> RecognizedText:
        import io

        png = io.BytesIO()
        image.convert("RGB").save(png, format="PNG")
        out = subprocess.run(
            [self._binary, "stdin", "stdout", "-l", self._language],
            input=png.getvalue(),
            capture_output=True,
            check=True,
            timeout=600,
        )
        text = "\n".join(line for line in out.stdout.decode().splitlines() if line.strip())
        return RecognizedText(text, None)
