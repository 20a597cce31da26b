"""Document collections, measured (`make bench-rag`; prints numbers, asserts nothing).

1. Search latency, p50/p99, at 1,000, 10,000 and 100,000 chunks: the exact search alone (one
   matrix-vector product in this process), and `POST /v1/collections/{name}/search` through
   the whole system (API -> RabbitMQ RPC -> rag service: query embedded, vectors searched ->
   reply), sequential requests after one warm-up that loads the collection.
2. Indexing pages/s: `rag.index` through the whole system (upload, job, PDF read, chunking,
   embedding, storing, job events) against chunking and embedding the same pages in this
   process with the same embedder.
3. Segment size per 1,000 chunks (the vector store's blobs).

Needs RabbitMQ and Redis like the tests (TEST_AMQP_URL / TEST_REDIS_URL). The collections of
part 1 are written straight into the store (random unit vectors, real-sized texts), so that
100,000 chunks do not take an hour of embedding first.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the rag service (services/rag/__main__.py)

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from fpdf import FPDF
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.rag.chunking import chunk_page
from services.rag.embedding import embedder_from_settings
from services.rag.embedding_settings import EmbeddingSettings
from services.rag.settings import RagSettings
from services.rag.store import THREADED_FROM, BlobVectorStore, CollectionIndex, Segment
from shared.collections import CollectionCatalog
from shared.storage import LocalStorage
from tests.support.infra import provide_infra
from tools.devstack import ServiceProcess, free_port, wait_ready

KEY = "bench-key-0123456789"
TENANT = "bench"
_VOCABULARY = (
    "lease rent tenant landlord insurance building contract payment notice term clause party agreement "
    "invoice delivery warranty liability damage repair period renewal deposit account property premises "
    "schedule annex obligation breach remedy court law dispute signature date"
)
WORDS = _VOCABULARY.split(" ")


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."


def page_text(rng: random.Random, words: int = 300) -> str:
    out: list[str] = []
    while sum(len(s.split()) for s in out) < words:
        out.append(sentence(rng))
    return " ".join(out)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def random_segment(rng: np.random.Generator, chunks: int, dim: int, texts: list[str]) -> Segment:
    vectors = rng.normal(size=(chunks, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pages = (np.arange(chunks, dtype=np.int32) // 4) + 1
    return Segment(vectors, pages, [texts[i % len(texts)] for i in range(chunks)])


def show(what: str, count: int, first: float, second: float) -> None:
    """One result line, printed (and flushed) as soon as it is measured."""
    print(f"{what:30}{count:>9}{first:>10.2f}{second:>10.2f}", flush=True)


def search_alone(sizes: list[int], dim: int, queries: int) -> dict[int, tuple[float, float]]:
    """As the service searches: spread over its default search threads from THREADED_FROM."""
    rng = np.random.default_rng(1)
    threads = RagSettings.model_fields["search_threads"].default
    pool = ThreadPoolExecutor(threads)
    out = {}
    for size in sizes:
        parts = threads if size >= THREADED_FROM else 1
        index = CollectionIndex([("0" * 32, random_segment(rng, size, dim, ["x"]))], dim)
        query = rng.normal(size=dim).astype(np.float32)
        query /= np.linalg.norm(query)
        times, cpu = [], []
        for _ in range(queries):
            started, used = time.perf_counter(), time.process_time()
            index.search(query, 5, pool, parts)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
        out[size] = percentiles(times)
        show("exact search alone", size, *out[size])
        show("  its CPU time (p50, p99)", size, *percentiles(cpu))
    pool.shutdown()
    return out


async def fill(catalog: CollectionCatalog, sizes: list[int], dim: int, model: str, texts: list[str]) -> None:
    """One collection per size, in files of 1,000 chunks, as the rag service stores them."""
    store = BlobVectorStore(catalog)
    rng = np.random.default_rng(2)
    for size in sizes:
        for n in range(size // 1000):
            segment = random_segment(rng, 1000, dim, texts)
            await store.put_file(TENANT, f"bench-{size}", f"{n:032x}", 250, segment, model)


async def search_through_api(
    api: httpx.AsyncClient, sizes: list[int], queries: int
) -> dict[int, tuple[float, float]]:
    out = {}
    rng = random.Random(3)
    for size in sizes:
        for _ in range(30):  # the first search loads the collection; a large one outlasts API_SEARCH_TIMEOUT
            warm = await api.post(
                f"/v1/collections/bench-{size}/search", json={"query": "warm up", "top_k": 5}
            )
            if warm.status_code != 503:
                break
        warm.raise_for_status()
        times = []
        for _ in range(queries):
            query = sentence(rng)
            started = time.perf_counter()
            response = await api.post(
                f"/v1/collections/bench-{size}/search", json={"query": query, "top_k": 5}
            )
            times.append(time.perf_counter() - started)
            response.raise_for_status()
        out[size] = percentiles(times)
        show("POST .../search (system)", size, *out[size])
    return out


def pdf_of(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 5, text)
    return bytes(pdf.output())


async def index_through_api(api: httpx.AsyncClient, pdf: bytes, name: str) -> float:
    upload = await api.post("/v1/files", files={"file": ("bench.pdf", pdf, "application/pdf")})
    upload.raise_for_status()
    started = time.perf_counter()
    job = await api.post(
        "/v1/jobs",
        json={"operation": "rag.index", "input": {"file_id": upload.json()["id"], "collection": name}},
    )
    job.raise_for_status()
    while True:
        view = (await api.get(f"/v1/jobs/{job.json()['id']}")).json()
        if view["status"] == "succeeded":
            return time.perf_counter() - started
        if view["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"indexing {view['status']}: {view.get('error')}")
        await asyncio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="chunks per collection")
    parser.add_argument("--queries", type=int, default=200, help="searches per size")
    parser.add_argument("--pages", type=int, default=20, help="pages of the PDF indexed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(0)
    pages = [page_text(rng) for _ in range(args.pages)]

    embedder = embedder_from_settings(EmbeddingSettings())
    print(f"embedder: {embedder.model} ({embedder.dim} dimensions); os.cpu_count() = {os.cpu_count()},")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (other work on the machine skews every number)")
    texts = [c.text for c in chunk_page(1, " ".join(pages[:10]))]
    size_per_1000 = len(random_segment(np.random.default_rng(0), 1000, embedder.dim, texts).encode())
    print(f"one segment of 1,000 chunks: {size_per_1000 / 1e6:.2f} MB\n")
    print(f"{'':30}{'pages':>9}{'seconds':>10}{'pages/s':>10}")
    started = time.perf_counter()
    chunks = 0
    for number, text in enumerate(pages, 1):
        page_chunks = chunk_page(number, text)
        embedder.embed([c.text for c in page_chunks])
        chunks += len(page_chunks)
    alone = time.perf_counter() - started
    show("chunk + embed alone", len(pages), alone, len(pages) / alone)
    print(f"\n{'search, top 5':30}{'chunks':>9}{'p50 ms':>10}{'p99 ms':>10}")
    search_alone(sizes, embedder.dim, args.queries)

    with (
        provide_infra() as infra,
        tempfile.TemporaryDirectory() as files,
        tempfile.TemporaryDirectory() as logs,
    ):
        port = free_port()
        env = {
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "JOBS_API_KEYS": f"{TENANT}:{KEY}",
            "API_PORT": str(port),
            "STORAGE_BACKEND": "local",
            "STORAGE_DIR": files,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "API_METRICS_PORT": "0",
            "RAG_METRICS_PORT": "0",
            "PROJECTOR_METRICS_PORT": "0",
        }
        redis = Redis.from_url(infra.redis_url, decode_responses=True)
        asyncio.run(
            fill(
                CollectionCatalog(LocalStorage(Path(files)), redis),
                sizes,
                embedder.dim,
                embedder.model,
                texts,
            )
        )
        services = [ServiceProcess(name, env, Path(logs)).start() for name in ("projector", "rag", "api")]
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(base_url, services[2])

            async def run() -> None:
                async with httpx.AsyncClient(
                    base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120
                ) as api:
                    await index_through_api(api, pdf_of(pages[:1]), "bench-warm")  # the model is loaded
                    seconds = await index_through_api(api, pdf_of(pages), "bench-index")
                    print(f"\n{'':30}{'pages':>9}{'seconds':>10}{'pages/s':>10}")
                    show("rag.index (system)", len(pages), seconds, len(pages) / seconds)
                    print(f"\n{'search, top 5':30}{'chunks':>9}{'p50 ms':>10}{'p99 ms':>10}")
                    await search_through_api(api, sizes, args.queries)

            asyncio.run(run())
        finally:
            for service in services:
                service.stop()

    print(f"\n{chunks} chunks from {len(pages)} pages of about 300 words")


if __name__ == "__main__":
    main()
