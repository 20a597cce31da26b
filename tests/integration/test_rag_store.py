"""The RAG worker's vector store over a real Redis and a local file storage: loaded collections
stay within a memory budget (least recently searched dropped first), and a new process loads
the collections searched last before anyone asks."""

import uuid
from pathlib import Path

import numpy as np
import pytest
from redis.asyncio import Redis

from services.rag.store import BlobVectorStore, Segment
from shared.collections import RECENT_KEY, CollectionCatalog
from shared.storage import LocalStorage

pytestmark = pytest.mark.integration
MODEL = "test-model"
DIM = 8
CHUNKS = 500


def _segment(seed: int) -> Segment:
    vectors = np.random.default_rng(seed).normal(size=(CHUNKS, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Segment(
        vectors, np.arange(1, CHUNKS + 1, dtype=np.int32), [f"chunk {seed}/{i}" for i in range(CHUNKS)]
    )


async def _fill(catalog: CollectionCatalog, tenant: str, names: list[str]) -> dict[str, Segment]:
    writer = BlobVectorStore(catalog)
    segments = {}
    for seed, name in enumerate(names):
        segments[name] = _segment(seed)
        await writer.put_file(tenant, name, f"file-{name}", 1, segments[name], MODEL)
    return segments


async def _one_loaded(catalog: CollectionCatalog, tenant: str, name: str) -> int:
    """What one loaded collection holds in memory (its segment and its matrix)."""
    probe = BlobVectorStore(catalog)
    await probe.index(tenant, name, MODEL)
    return probe.loaded_bytes


@pytest.fixture
async def catalog(redis: Redis, tmp_path: Path) -> CollectionCatalog:
    await redis.delete(RECENT_KEY)
    return CollectionCatalog(LocalStorage(tmp_path), redis)


async def test_collections_beyond_the_budget_are_dropped_least_recently_searched_first(
    catalog: CollectionCatalog, tenant: str
) -> None:
    segments = await _fill(catalog, tenant, ["a", "b", "c"])
    store = BlobVectorStore(catalog, budget_bytes=int(2.5 * await _one_loaded(catalog, tenant, "a")))
    for name in ("a", "b", "a", "c"):  # b is now the one searched least recently
        query = segments[name].vectors[7]
        best = await store.search(tenant, name, query, 1, MODEL)
        assert best[0].text == f"chunk {'abc'.index(name)}/7"
    assert store.loaded_bytes <= store.budget_bytes
    assert [c for _, c in store._indexes] == ["a", "c"]
    # dropped is not gone: searching it loads it again, and drops the next least recent
    assert (await store.search(tenant, "b", segments["b"].vectors[3], 1, MODEL))[0].text == "chunk 1/3"
    assert [c for _, c in store._indexes] == ["c", "b"]


async def test_a_new_process_loads_the_collections_searched_last(
    catalog: CollectionCatalog, tenant: str
) -> None:
    segments = await _fill(catalog, tenant, ["old", "middle", "new"])
    first = BlobVectorStore(catalog)
    for name in ("old", "middle", "new"):
        await first.search(tenant, name, segments[name].vectors[0], 1, MODEL)
    restarted = BlobVectorStore(catalog, budget_bytes=int(2.5 * await _one_loaded(catalog, tenant, "old")))
    assert await restarted.warm(MODEL, limit=20) == 2
    assert {c for _, c in restarted._indexes} == {"new", "middle"}
    unknown = BlobVectorStore(catalog)
    await catalog.searched(f"tenant-{uuid.uuid4().hex[:8]}", "never-indexed")
    assert await unknown.warm(MODEL, limit=20) == 3  # an empty one is skipped, not an error
