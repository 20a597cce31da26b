"""Pages of a document into the passages that are embedded and searched, page numbers kept.

A chunk never spans two pages, so every search hit cites exactly one page. Within a page,
chunks are runs of whole sentences of at most `max_words` words; consecutive chunks share
about `overlap_words` words (whole sentences), so a fact cut by a chunk boundary is still
whole in one of them. A sentence longer than `max_words` is cut between words. Words, not
tokens: the limit must hold for any embedder; 120 English words are about 160 WordPiece
tokens, inside the bundled model's 256 (`embedding_local.MAX_TOKENS`).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MAX_WORDS", "OVERLAP_WORDS", "Chunk", "chunk_pages", "split_sentences"]

MAX_WORDS = 120
OVERLAP_WORDS = 30

# After sentence-ending punctuation (and closing quotes or brackets) followed by space, or at a
# blank line. Abbreviations such as "e.g. the" split too: harmless for retrieval.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n\s*\n")


@dataclass(frozen=True)
class Chunk:
    page: int
    """1-based page number."""
    index: int
    """Position of the chunk in the whole document, from 0."""
    text: str


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` with whitespace runs (line breaks of the PDF layout) made one space."""
    return [" ".join(part.split()) for part in _SENTENCE_END.split(text) if part and part.strip()]


def _windows(sentences: list[list[str]], max_words: int, overlap_words: int) -> list[list[str]]:
    """Runs of consecutive sentences (each a list of words), at most `max_words` each."""
    units: list[list[str]] = []
    for words in sentences:  # an over-long sentence becomes several units of max_words
        units += [words[i : i + max_words] for i in range(0, len(words), max_words)]
    chunks: list[list[str]] = []
    start = 0
    while start < len(units):
        end, used = start, 0
        while end < len(units) and (end == start or used + len(units[end]) <= max_words):
            used += len(units[end])
            end += 1
        chunks.append([word for unit in units[start:end] for word in unit])
        if end == len(units):
            break
        # The next run starts with the last sentences of this one, up to overlap_words words.
        back, shared = end, 0
        while back - 1 > start and shared + len(units[back - 1]) <= overlap_words:
            back -= 1
            shared += len(units[back])
        start = back
    return chunks


def chunk_pages(
    pages: Sequence[str | None], *, max_words: int = MAX_WORDS, overlap_words: int = OVERLAP_WORDS
) -> list[Chunk]:
    """Chunks of every page in order; a page without text (None or blank) gives none."""
    if max_words < 1 or not 0 <= overlap_words < max_words:
        raise ValueError("need max_words >= 1 and 0 <= overlap_words < max_words")
    chunks: list[Chunk] = []
    for number, text in enumerate(pages, start=1):
        sentences = [sentence.split() for sentence in split_sentences(text or "")]
        for words in _windows(sentences, max_words, overlap_words):
            chunks.append(Chunk(page=number, index=len(chunks), text=" ".join(words)))
    return chunks
