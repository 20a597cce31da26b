"""Retrieval quality of the RAG embedders on the generated question set (`make bench-rag-quality`).

The PDFs of `rag_corpus.py` are read the way rag.index reads them (the text layer of each page,
`shared.documents.PdfDocument`), cut by the rag service's chunker (`services.rag.chunking`),
and all documents' chunks form one collection. Each question is embedded and compared with
every chunk by exact cosine similarity (one matrix product). A question is answered at k when
one of the k best chunks is on the page that holds its answer (what `rag.ask` with `top_k` k
would cite); MRR is the mean of 1 / the rank of the first such chunk. Throughput: all chunks
embedded again after a warm-up run, texts per second; a question alone, median milliseconds.

    python -m bench.rag_quality [--candidates all] [--docs docs/benchmarks-rag.md]
"""

import argparse
import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.rag_candidates import CANDIDATES, available, is_embedder
from bench.rag_corpus import Question, build, write
from services.rag.chunking import chunk_page
from shared.documents import PdfDocument

ROOT = Path(__file__).resolve().parents[1]
MARKER = "rag-quality"


@dataclass(frozen=True)
class Passage:
    document: str
    page: int
    text: str


@dataclass
class Result:
    name: str
    recall: dict[int, float]
    mrr: float
    chunks_per_second: float | None
    chunks_per_cpu_second: float | None
    query_ms: float | None
    misses: list[tuple[Question, Passage]]


def passages(pdfs: dict[str, bytes], max_words: int, overlap: int, title: bool = False) -> list[Passage]:
    """Every chunk of every PDF, as rag.index makes them; `title`: each chunk's text starts with
    its document's title (the first line of page 1), context for chunks that do not name it."""
    out = []
    for name, data in pdfs.items():
        document = PdfDocument(data, max_pages=100)
        try:
            pages = [document.text_layer(i) or "" for i in range(document.pages)]
        finally:
            document.close()
        heading = pages[0].split("\n")[0] + ": " if title else ""
        for number, text in enumerate(pages, start=1):
            chunks = chunk_page(number, text, max_words=max_words, overlap=overlap)
            out += [Passage(name, chunk.page, heading + chunk.text) for chunk in chunks]
    return out


def evaluate(name: str, candidate: Any, chunks: list[Passage], questions: list[Question]) -> Result:
    texts = [c.text for c in chunks]
    phrasings = [q.text for q in questions]
    speed = cpu_speed = query_ms = None
    if is_embedder(candidate):
        vectors = candidate.embed(texts)
        started, cpu = time.perf_counter(), time.process_time()
        candidate.embed(texts)  # timed after a warm-up
        speed = len(texts) / (time.perf_counter() - started)
        cpu_speed = len(texts) / (time.process_time() - cpu)
        scores = candidate.embed(phrasings) @ vectors.T  # exact cosine: rows are unit length
        timings = []
        for one in phrasings[:40]:
            started = time.perf_counter()
            candidate.embed([one])
            timings.append((time.perf_counter() - started) * 1000)
        query_ms = statistics.median(timings)
    else:
        candidate.index(texts)
        scores = candidate.scores(phrasings)
    ranks, misses = [], []
    for row, question in zip(scores, questions, strict=True):
        order = np.argsort(-row, kind="stable")
        on_page = [chunks[i].document == question.document and chunks[i].page == question.page for i in order]
        ranks.append(on_page.index(True) + 1)
        if ranks[-1] > 5:
            misses.append((question, chunks[order[0]]))
    recall = {k: float(np.mean([r <= k for r in ranks])) for k in (1, 3, 5)}
    return Result(name, recall, float(np.mean([1 / r for r in ranks])), speed, cpu_speed, query_ms, misses)


def installed_mb(distribution: str) -> float:
    files = importlib.metadata.files(distribution) or []
    return sum(Path(str(f.locate())).stat().st_size for f in files if Path(str(f.locate())).is_file()) / 1e6


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    ort = importlib.metadata.version("onnxruntime")
    load = os.getloadavg()[0]
    return (
        f"{model}, {os.cpu_count()} cores, load average {load:.1f} at the end; "
        f"Python {platform.python_version()}, onnxruntime {ort}"
    )


def report(
    results: list[Result], chunks: list[Passage], questions: int, sizes: dict[str, float], setup: str
) -> str:
    documents = len({c.document for c in chunks})
    pages = len({(c.document, c.page) for c in chunks})
    lines = [
        f"Generated on {time.strftime('%Y-%m-%d')} by `make bench-rag-quality` ({setup}).",
        f"Machine: {machine()}.",
        "",
        f"{questions} questions over {documents} PDFs ({pages} pages), {len(chunks)} chunks in one "
        "collection.",
        "",
        "| candidate | recall@1 | recall@3 | recall@5 | MRR | chunks/s | chunks per CPU-second "
        "| one question (ms) | model package (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        speed = f"{r.chunks_per_second:.0f}" if r.chunks_per_second else "-"
        cpu = f"{r.chunks_per_cpu_second:.0f}" if r.chunks_per_cpu_second else "-"
        query = f"{r.query_ms:.1f}" if r.query_ms else "-"
        size = f"{sizes[r.name]:.0f}" if r.name in sizes else "-"
        lines.append(
            f"| {r.name} | {r.recall[1]:.3f} | {r.recall[3]:.3f} | {r.recall[5]:.3f} | {r.mrr:.3f} "
            f"| {speed} | {cpu} | {query} | {size} |"
        )
    return "\n".join(lines) + "\n"


def replace_between(text: str, block: str) -> str:
    start, end = f"<!-- {MARKER}:start -->", f"<!-- {MARKER}:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{block}{end}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--candidates", default="installed", help="comma-separated names, `installed` or `all`"
    )
    # The rag worker's defaults (RAG_CHUNK_WORDS, RAG_CHUNK_OVERLAP).
    parser.add_argument("--max-words", type=int, default=120)
    parser.add_argument("--overlap-words", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads of the default (0: all)")
    parser.add_argument("--title", action="store_true", help="prefix each chunk with its document's title")
    parser.add_argument("--docs", type=Path, help="rewrite the generated block of this Markdown file")
    parser.add_argument("--misses", action="store_true", help="print the questions missed at 5")
    args = parser.parse_args(argv)
    corpus = build()
    write(corpus, ROOT / "build" / "rag-quality")
    chunks = passages(corpus.pdfs, args.max_words, args.overlap_words, args.title)
    names = list(CANDIDATES) if args.candidates in ("installed", "all") else args.candidates.split(",")
    missing = [n for n in names if not available(n)]
    if missing and args.candidates != "installed":
        raise SystemExit(f"not installed: {', '.join(missing)} (see `make bench-rag-candidates`)")
    results, sizes = [], {}
    for name in (n for n in names if n not in missing):
        factory, distribution = CANDIDATES[name]
        candidate = factory()
        if name == "minilm-l6-int8":
            candidate = type(candidate)(threads=args.threads)
        results.append(evaluate(name, candidate, chunks, corpus.questions))
        if distribution:
            sizes[name] = installed_mb(distribution)
        print(f"{name}: recall@5 {results[-1].recall[5]:.3f}, MRR {results[-1].mrr:.3f}", flush=True)
    setup = f"chunks of at most {args.max_words} words, {args.overlap_words} shared"
    setup += (
        ", each prefixed with its document's title" if args.title else ""
    ) + f"; {args.threads} thread(s)"
    text = report(results, chunks, len(corpus.questions), sizes, setup)
    print(text)
    if args.misses:
        for result in results:
            for question, best in result.misses:
                print(
                    f"[{result.name}] p{question.page} {question.text!r} -> p{best.page} {best.text[:90]!r}"
                )
    if args.docs:
        args.docs.write_text(replace_between(args.docs.read_text(), text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
