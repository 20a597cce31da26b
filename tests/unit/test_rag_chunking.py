"""The RAG chunker: page numbers kept, sizes bounded, overlap between neighbours, nothing lost."""

import itertools

import pytest

from services.rag.chunking import Chunk, chunk_pages, split_sentences

SENTENCES = [f"Sentence number {i} has exactly seven words." for i in range(40)]


def test_no_chunk_spans_two_pages_and_numbers_are_kept() -> None:
    pages = [" ".join(SENTENCES[:20]), None, "   ", " ".join(SENTENCES[20:])]
    chunks = chunk_pages(pages, max_words=50, overlap_words=14)
    assert {c.page for c in chunks} == {1, 4}  # pages 2 and 3 have no text
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        numbers = {int(w) for w in chunk.text.split() if w.isdigit()}
        assert all(n < 20 for n in numbers) if chunk.page == 1 else all(n >= 20 for n in numbers)


def test_chunks_are_whole_sentences_within_the_limit_sharing_the_overlap() -> None:
    chunks = chunk_pages([" ".join(SENTENCES)], max_words=50, overlap_words=14)
    assert all(len(c.text.split()) <= 50 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    for before, after in itertools.pairwise(chunks):
        shared = [s for s in split_sentences(before.text) if s in split_sentences(after.text)]
        assert len(shared) == 2  # 14 words: two seven-word sentences
    covered = {s for c in chunks for s in split_sentences(c.text)}
    assert covered == set(SENTENCES)


def test_a_sentence_longer_than_the_limit_is_cut_between_words() -> None:
    words = [f"w{i}" for i in range(130)]
    chunks = chunk_pages([" ".join(words) + "."], max_words=50, overlap_words=10)
    assert [len(c.text.split()) for c in chunks] == [50, 50, 30]
    assert " ".join(c.text for c in chunks) == " ".join(words) + "."


def test_layout_line_breaks_become_spaces_and_blank_lines_end_sentences() -> None:
    page = "The pump is\nrated for 12 bar.  Keep it dry\n\nSection 2\nNever run it dry."
    assert split_sentences(page) == [
        "The pump is rated for 12 bar.",
        "Keep it dry",
        "Section 2 Never run it dry.",
    ]
    assert chunk_pages([page]) == [
        Chunk(1, 0, "The pump is rated for 12 bar. Keep it dry Section 2 Never run it dry.")
    ]


@pytest.mark.parametrize(("max_words", "overlap_words"), [(0, 0), (10, 10), (10, -1)])
def test_impossible_sizes_are_refused(max_words: int, overlap_words: int) -> None:
    with pytest.raises(ValueError, match="max_words"):
        chunk_pages(["text."], max_words=max_words, overlap_words=overlap_words)
