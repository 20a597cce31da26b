"""Pages into chunks that keep their page: a chunk never spans two pages, so every search hit
and every answer's source names one page.

Sentences are packed into a chunk up to `max_words`; a sentence longer than that is cut into
word windows. Consecutive chunks of a page share about `overlap` words (whole sentences), so
a fact that straddles a boundary is still whole in one of them.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_page", "chunk_pages"]

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n\s*\n")


@dataclass(frozen=True)
class Chunk:
    page: int
    """1-based page number."""
    text: str


def _sentences(text: str, max_words: int) -> list[list[str]]:
    """The page's sentences as word lists, none longer than `max_words`."""
    out: list[list[str]] = []
    for part in _SENTENCE_END.split(text):
        words = part.split()
        for start in range(0, len(words), max_words):
            out.append(words[start : start + max_words])
    return [s for s in out if s]


def chunk_page(page: int, text: str, *, max_words: int = 120, overlap: int = 20) -> list[Chunk]:
    if overlap >= max_words:
        raise ValueError("overlap must be smaller than max_words")
    sentences = _sentences(text, max_words)
    chunks: list[Chunk] = []
    current: list[list[str]] = []
    size = 0
    for sentence in sentences:
        if current and size + len(sentence) > max_words:
            chunks.append(Chunk(page, " ".join(w for s in current for w in s)))
            # Carry the last sentences (up to `overlap` words) into the next chunk.
            carried: list[list[str]] = []
            kept = 0
            for previous in reversed(current):
                if kept + len(previous) > overlap or kept + len(previous) + len(sentence) > max_words:
                    break
                carried.insert(0, previous)
                kept += len(previous)
            current, size = carried, kept
        current.append(sentence)
        size += len(sentence)
    if current:
        chunks.append(Chunk(page, " ".join(w for s in current for w in s)))
    return chunks


def chunk_pages(pages: Iterable[tuple[int, str]], *, max_words: int = 120, overlap: int = 20) -> list[Chunk]:
    return [
        c for number, text in pages for c in chunk_page(number, text, max_words=max_words, overlap=overlap)
    ]


def texts(chunks: Sequence[Chunk]) -> list[str]:
    return [c.text for c in chunks]
