"""The vector store: an interface, and its embedded default over the file storage.

`BlobVectorStore` keeps each indexed file's chunks as one segment blob (an `.npz`: float32
vectors, page numbers, texts as UTF-8 JSON; no pickle) in the file storage, local or S3,
listed by the tenant's catalog (shared/collections.py). Searching loads a collection's
segments once into one matrix in memory and answers with one matrix-vector product: exact
cosine similarity (vectors are L2-normalised), no approximate index. A search checks the
catalog's revision in Redis first, so a file indexed or deleted by any process on any
machine is seen by the next search. pgvector or a vector database fits behind `VectorStore`.
"""

import asyncio
import io
import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import numpy.typing as npt
from prometheus_client import Gauge
from redis.exceptions import RedisError

from services.rag.chunking import Chunk
from shared.collections import Catalog, CollectionCatalog, FileEntry, now_iso
from shared.schemas.rag import Source

__all__ = ["BlobVectorStore", "CollectionEmpty", "CollectionIndex", "Segment", "VectorStore"]

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
THREADED_FROM = 20_000
"""Chunks from which a search runs off the event loop, spread over the search threads (below
it, a thread hop costs more than the product itself)."""
LOADED_BYTES = Gauge("rag_loaded_bytes", "Bytes of collection vectors and texts held in memory for search.")
LOADED_COLLECTIONS = Gauge("rag_loaded_collections", "Collections held in memory for search.")


class CollectionEmpty(Exception):
    """No such collection, or nothing in it that the current embedding model can search."""


@dataclass(frozen=True)
class Segment:
    """One file's chunks and their vectors (row i is chunk i)."""

    vectors: Matrix
    pages: npt.NDArray[np.int32]
    texts: list[str]

    def encode(self) -> bytes:
        out = io.BytesIO()
        texts = np.frombuffer(json.dumps(self.texts, ensure_ascii=False).encode(), dtype=np.uint8)
        np.savez_compressed(out, vectors=self.vectors, pages=self.pages, texts=texts)
        return out.getvalue()

    @cached_property
    def nbytes(self) -> int:
        """About what it holds in memory (texts: UTF-8 length plus a str object's header)."""
        return self.vectors.nbytes + self.pages.nbytes + sum(len(t) + 50 for t in self.texts)

    @classmethod
    def decode(cls, data: bytes) -> "Segment":
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            texts = json.loads(npz["texts"].tobytes().decode())
            return cls(npz["vectors"].astype(np.float32, copy=False), npz["pages"], texts)

    @classmethod
    def of(cls, chunks: Sequence[Chunk], vectors: Matrix) -> "Segment":
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        pages = np.array([c.page for c in chunks], dtype=np.int32)
        return cls(np.ascontiguousarray(vectors, dtype=np.float32), pages, [c.text for c in chunks])


class CollectionIndex:
    """A collection's chunks as one matrix, searched exactly."""

    def __init__(self, segments: Sequence[tuple[str, Segment]], dim: int) -> None:
        self.file_ids = [file_id for file_id, s in segments for _ in range(len(s.texts))]
        self.texts = [t for _, s in segments for t in s.texts]
        self.pages = np.concatenate([s.pages for _, s in segments]) if segments else np.zeros(0, np.int32)
        self.matrix = (
            np.vstack([s.vectors for _, s in segments]) if segments else np.zeros((0, dim), np.float32)
        )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def nbytes(self) -> int:
        """Its own arrays and lists; the texts themselves are its segments' (shared)."""
        return self.matrix.nbytes + self.pages.nbytes + 16 * len(self.texts)

    def search(self, query: Matrix, top_k: int, pool: Executor | None = None, parts: int = 1) -> list[Source]:
        """Best first; `query` is one L2-normalised vector. With a `pool`, the product is cut
        into `parts` row blocks computed at once (NumPy lets go of the GIL in BLAS): a large
        collection's search is bound by reading its matrix, which one core does not saturate."""
        if len(self) == 0:
            return []
        vector = query.reshape(-1).astype(np.float32, copy=False)
        scores = np.empty(len(self), np.float32)
        if pool is None or parts <= 1:
            np.dot(self.matrix, vector, out=scores)
        else:
            edges = np.linspace(0, len(self), parts + 1, dtype=int)
            blocks = list(itertools.pairwise(int(e) for e in edges))
            list(
                pool.map(lambda b: np.dot(self.matrix[b[0] : b[1]], vector, out=scores[b[0] : b[1]]), blocks)
            )
        k = min(top_k, len(scores))
        best = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [
            Source(
                file_id=self.file_ids[i], page=int(self.pages[i]), text=self.texts[i], score=float(scores[i])
            )
            for i in best
        ]


class VectorStore(Protocol):
    async def put_file(
        self, tenant: str, collection: str, file_id: str, pages: int, segment: Segment, model: str
    ) -> int:
        """Store (or replace) a file's chunks; returns how many chunks it replaced."""

    async def search(
        self, tenant: str, collection: str, query: Matrix, top_k: int, model: str
    ) -> list[Source]:
        """Raises CollectionEmpty."""


class BlobVectorStore:
    """`budget_bytes`: what loaded collections may hold in memory; beyond it the one searched
    least recently is dropped (the one just loaded always stays)."""

    def __init__(self, catalog: CollectionCatalog, *, budget_bytes: int = 2 << 30, threads: int = 1) -> None:
        self.catalog = catalog
        self.budget_bytes = budget_bytes
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="search") if threads > 1 else None
        self._segments: dict[str, Segment] = {}  # by blob key (a new key per indexing)
        self._indexes: OrderedDict[tuple[str, str], tuple[tuple[str, ...], CollectionIndex]] = OrderedDict()
        """Loaded collections, least recently searched first."""
        self._revisions: dict[str, str] = {}
        self._catalogs: dict[str, Catalog] = {}
        self._loading = asyncio.Lock()

    async def put_file(
        self, tenant: str, collection: str, file_id: str, pages: int, segment: Segment, model: str
    ) -> int:
        key = self.catalog.segment_key(tenant, collection, file_id)
        data = await asyncio.to_thread(segment.encode)
        await self.catalog.storage.put(key, io.BytesIO(data))
        entry = FileEntry(
            pages=pages,
            chunks=len(segment.texts),
            embedding_model=model,
            dim=int(segment.vectors.shape[1]) if segment.vectors.ndim == 2 else 0,
            segment=key,
            indexed_at=now_iso(),
        )
        try:
            previous = await self.catalog.record(tenant, collection, file_id, entry)
        except BaseException:
            await self.catalog.storage.delete(key)
            raise
        return previous.chunks if previous else 0

    async def index(
        self, tenant: str, collection: str, model: str, *, recent: bool = True
    ) -> CollectionIndex:
        """The collection's chunks embedded with `model`, loaded (once per revision). `recent`
        False: loaded as the least recently searched (warming up, oldest last)."""
        async with self._loading:
            revision = await self.catalog.revision(tenant)
            catalog = self._catalogs.get(tenant)
            if catalog is None or revision is None or self._revisions.get(tenant) != revision:
                catalog = await self.catalog.load(tenant)
                self._catalogs[tenant] = catalog
                if revision is not None:
                    self._revisions[tenant] = revision
            found = catalog.collections.get(collection)
            files = sorted(
                (fid, e)
                for fid, e in (found.files.items() if found else ())
                if e.embedding_model == model and e.chunks > 0
            )
            keys = tuple(e.segment for _, e in files)
            cached = self._indexes.get((tenant, collection))
            if cached is not None and cached[0] == keys:
                self._indexes.move_to_end((tenant, collection), last=recent)
                return cached[1]
            segments = [(fid, await self._segment(e.segment)) for fid, e in files]
            dim = segments[0][1].vectors.shape[1] if segments else 0
            index = await asyncio.to_thread(CollectionIndex, segments, dim)
            self._indexes[(tenant, collection)] = (keys, index)
            self._indexes.move_to_end((tenant, collection), last=recent)
            self._evict()
            return index

    @property
    def loaded_bytes(self) -> int:
        return sum(i.nbytes for _, i in self._indexes.values()) + sum(
            s.nbytes for s in self._segments.values()
        )

    def _evict(self) -> None:
        """Drop segments no loaded collection uses, then collections searched least recently
        while over the budget (one always stays)."""
        while True:
            live = {k for ks, _ in self._indexes.values() for k in ks}
            for stale in [k for k in self._segments if k not in live]:
                del self._segments[stale]
            if len(self._indexes) <= 1 or self.loaded_bytes <= self.budget_bytes:
                break
            (tenant, collection), _ = self._indexes.popitem(last=False)
            log.info("collection %r of tenant %r dropped from memory (over the budget)", collection, tenant)
        LOADED_BYTES.set(self.loaded_bytes)
        LOADED_COLLECTIONS.set(len(self._indexes))

    async def warm(self, model: str, limit: int) -> int:
        """Load the collections searched last (newest first) until the budget is full, so the
        first searches after a start do not wait for loading; returns how many it loaded."""
        loaded = 0
        for tenant, collection in await self.catalog.recently_searched(limit):
            index = await self.index(tenant, collection, model, recent=False)
            if (tenant, collection) not in self._indexes:
                break  # it did not fit beside the newer ones
            loaded += len(index) > 0
        return loaded

    async def _segment(self, key: str) -> Segment:
        if key not in self._segments:
            data = await self.catalog.storage.get(key)
            self._segments[key] = await asyncio.to_thread(Segment.decode, data)
        return self._segments[key]

    async def search(
        self, tenant: str, collection: str, query: Matrix, top_k: int, model: str
    ) -> list[Source]:
        index = await self.index(tenant, collection, model)
        if len(index) == 0:
            raise CollectionEmpty(f"collection {collection!r} has no chunks to search")
        if len(index) < THREADED_FROM:
            found = index.search(query, top_k)
        else:
            found = await asyncio.to_thread(index.search, query, top_k, self._pool, self.threads)
        try:  # a hint for the next start's warm-up: never worth failing a search for
            await self.catalog.searched(tenant, collection)
        except (RedisError, OSError) as exc:
            log.warning("could not note the search of %r: %r", collection, exc)
        return found

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
