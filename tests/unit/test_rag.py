"""The rag service's pure parts: chunking keeps pages, the vector store's segments and exact
search, the catalog's add/replace/delete over real local storage, and input validation.

The embedder here is a deterministic test double (bag of hashed words), used only to give the
store vectors whose nearest neighbours are known; the service runs the real one."""

import hashlib
import itertools
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from services.rag.chunking import chunk_page, chunk_pages
from services.rag.store import CollectionIndex, Segment
from shared.schemas.rag import AskInput, IndexInput, SearchQuery

DIM = 256


def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            out[row, int(hashlib.sha1(word.encode()).hexdigest(), 16) % DIM] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    normalised: npt.NDArray[np.float32] = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return normalised


SENTENCES = [f"Sentence number {i} talks about topic{i} in some detail." for i in range(40)]


def test_chunks_never_span_pages_and_keep_their_page_number() -> None:
    pages = [(1, " ".join(SENTENCES[:20])), (2, ""), (3, " ".join(SENTENCES[20:]))]
    chunks = chunk_pages(pages, max_words=30, overlap=9)
    assert {c.page for c in chunks} == {1, 3}
    for c in chunks:
        numbers = {int(n) for n in re.findall(r"topic(\d+)", c.text)}
        assert numbers <= (set(range(20)) if c.page == 1 else set(range(20, 40))), c
        assert len(c.text.split()) <= 30
    # every sentence is whole in some chunk of its page, in order
    for i, sentence in enumerate(SENTENCES):
        assert any(sentence in c.text for c in chunks if c.page == (1 if i < 20 else 3)), sentence


def test_consecutive_chunks_overlap_by_whole_sentences() -> None:
    chunks = chunk_page(4, " ".join(SENTENCES[:10]), max_words=30, overlap=9)
    assert len(chunks) > 2
    for before, after in itertools.pairwise(chunks):
        last_sentence = re.findall(r"Sentence number \d+ [^.]*\.", before.text)[-1]
        assert after.text.startswith(last_sentence)


def test_a_sentence_longer_than_a_chunk_is_cut_into_windows() -> None:
    words = [f"w{i}" for i in range(250)]
    chunks = chunk_page(1, " ".join(words), max_words=100, overlap=10)
    assert [len(c.text.split()) for c in chunks] == [100, 100, 50]
    assert " ".join(c.text for c in chunks) == " ".join(words)


def test_empty_page_gives_no_chunk() -> None:
    assert chunk_page(1, "   \n\n ") == []
    with pytest.raises(ValueError, match="overlap"):
        chunk_page(1, "a b c", max_words=10, overlap=10)


def test_segment_round_trips_without_pickle() -> None:
    chunks = chunk_pages(
        [(1, "Zürich öffnet. Ünïcode “quotes”."), (2, "Second page here.")], max_words=3, overlap=1
    )
    segment = Segment.of(chunks, embed([c.text for c in chunks]))
    again = Segment.decode(segment.encode())
    assert again.texts == segment.texts
    assert again.pages.tolist() == [c.page for c in chunks]
    assert np.array_equal(again.vectors, segment.vectors)
    assert again.vectors.dtype == np.float32


def test_search_is_exact_and_best_first() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"t{i}" for i in range(3000)]
    a = Segment(vectors[:1000], np.arange(1, 1001, dtype=np.int32), texts[:1000])
    b = Segment(vectors[1000:], np.arange(1, 2001, dtype=np.int32), texts[1000:])
    index = CollectionIndex([("a" * 32, a), ("b" * 32, b)], 64)
    query = rng.normal(size=64).astype(np.float32)
    query /= np.linalg.norm(query)
    found = index.search(query, 10)
    expected = np.argsort(-(vectors @ query))[:10]
    assert [s.text for s in found] == [texts[i] for i in expected]
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert found[0].score == pytest.approx(float(vectors[expected[0]] @ query), abs=1e-6)
    best = int(expected[0])
    assert found[0].file_id == ("a" * 32 if best < 1000 else "b" * 32)
    assert found[0].page == (best + 1 if best < 1000 else best - 999)
    assert len(index.search(query, 50_000)) == 3000
    with ThreadPoolExecutor(3) as pool:  # the product cut into row blocks: the same answer
        assert index.search(query, 10, pool, parts=3) == found
        assert index.search(query, 10, pool, parts=7) == found


def test_search_finds_the_page_that_says_it() -> None:
    pages = [
        (1, "The lease of the warehouse ends on 31 March 2031."),
        (2, "Rent is paid quarterly in advance by bank transfer."),
        (3, "The tenant must insure the building against fire."),
    ]
    chunks = chunk_pages(pages)
    index = CollectionIndex([("f" * 32, Segment.of(chunks, embed([c.text for c in chunks])))], DIM)
    found = index.search(embed(["how is rent paid quarterly"])[0], 3)
    assert found[0].page == 2
    assert CollectionIndex([], DIM).search(embed(["x"])[0], 3) == []


@pytest.mark.parametrize("name", ["", "-lead", "Upper", "has space", "a" * 64, "dots.not", "ünï", "../x"])
def test_collection_names_outside_the_pattern_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        IndexInput(file_id="0" * 32, collection=name)
    with pytest.raises(ValidationError):
        AskInput(collection=name, question="why?")


@pytest.mark.parametrize("name", ["a", "0", "contracts-2024_q1", "a" * 63])
def test_collection_names_inside_the_pattern_pass(name: str) -> None:
    assert IndexInput(file_id="0" * 32, collection=name).collection == name


@pytest.mark.parametrize("top_k", [0, 51, -1])
def test_top_k_outside_1_to_50_is_refused(top_k: int) -> None:
    with pytest.raises(ValidationError):
        AskInput(collection="c", question="why?", top_k=top_k)
    with pytest.raises(ValidationError):
        SearchQuery(query="why", top_k=top_k)


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_an_empty_question_is_refused(question: str) -> None:
    with pytest.raises(ValidationError):
        AskInput(collection="c", question=question)
    with pytest.raises(ValidationError):
        SearchQuery(query=question)


def test_ask_defaults_to_five_sources() -> None:
    assert AskInput(collection="c", question=" why? ").model_dump() == {
        "collection": "c",
        "question": "why?",
        "top_k": 5,
    }
