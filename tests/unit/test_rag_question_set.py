"""The generated RAG question set keeps its promises: at least 50 questions over at least 3
multi-page PDFs, each answer on the page the question names (read back from the PDF's text
layer), and questions that are paraphrases, not copies of their sentence."""

import re
from collections import Counter

from bench.rag_corpus import build
from shared.documents import PdfDocument

STOP = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at to for by from with is are was were be been has have had do does did "
        "how what which who when where whom many much our its it this that and or up after per each "
        "any may can i",
    )
)


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP}


def test_enough_questions_over_enough_multi_page_pdfs() -> None:
    corpus = build()
    assert len(corpus.questions) >= 50
    assert len(corpus.pdfs) >= 3
    for data in corpus.pdfs.values():
        document = PdfDocument(data, max_pages=100)
        assert document.pages >= 5
        document.close()
    assert build().questions == corpus.questions  # the same seed, the same set


def test_every_answer_is_on_its_page_and_only_there() -> None:
    corpus = build()
    texts = {}
    for name, data in corpus.pdfs.items():
        document = PdfDocument(data, max_pages=100)
        texts[name] = [" ".join((document.text_layer(i) or "").split()) for i in range(document.pages)]
        document.close()
    for question in corpus.questions:
        pages = [n for n, text in enumerate(texts[question.document], start=1) if question.fact in text]
        assert pages == [question.page], question


def test_questions_are_paraphrases_not_copies() -> None:
    corpus = build()
    phrasings = Counter(q.fact for q in corpus.questions)
    assert min(phrasings.values()) >= 2  # every fact is asked in at least two ways
    overlaps = []
    for question in corpus.questions:
        asked, stated = content_words(question.text), content_words(question.fact)
        overlaps.append(len(asked & stated) / len(asked))
        assert question.text.rstrip("?").lower() not in question.fact.lower()
    # Beyond the names (a city, a pump model), few words are shared with the answering sentence.
    assert sum(overlaps) / len(overlaps) < 0.5
