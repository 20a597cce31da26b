"""The catalog of a tenant's document collections: which files each holds, with their pages,
chunks and the blob (segment) their vectors are in.

One JSON document per tenant in the file storage (local directory or S3), so it is where
the vectors are, and every worker on every machine sees the same thing. Writers change it
under a short Redis lock per tenant (read, modify, write, then publish the new revision in
Redis); readers that cache vectors compare that revision to theirs, one `GET` per search.
No numpy here: the API reads and deletes through this module too.
"""

import io
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import cast

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from shared.files import tenant_key
from shared.schemas.rag import CollectionDetail, CollectionFile, CollectionSummary
from shared.storage import BlobMissing, BlobStorage

__all__ = ["Catalog", "CollectionCatalog", "FileEntry"]

log = logging.getLogger(__name__)

LOCK_SECONDS = 30.0
"""Longest a writer may hold a tenant's catalog (a crashed one lets go after this)."""
RECENT_KEY = "jobs:rag:searched"
"""Collections by when they were last searched (a sorted set of `[tenant, collection]`)."""
RECENT_KEEP = 1000


class FileEntry(BaseModel):
    pages: int
    chunks: int
    embedding_model: str
    dim: int
    segment: str = Field(description="Blob key of the file's vectors and chunk texts.")
    indexed_at: str


class Collection(BaseModel):
    files: dict[str, FileEntry] = Field(default_factory=dict)

    def detail(self, name: str) -> CollectionDetail:
        return CollectionDetail(
            name=name,
            pages=sum(f.pages for f in self.files.values()),
            chunks=sum(f.chunks for f in self.files.values()),
            files=[
                CollectionFile(
                    file_id=file_id,
                    pages=f.pages,
                    chunks=f.chunks,
                    embedding_model=f.embedding_model,
                    indexed_at=f.indexed_at,
                )
                for file_id, f in sorted(self.files.items(), key=lambda item: item[1].indexed_at)
            ],
        )

    def summary(self, name: str) -> CollectionSummary:
        detail = self.detail(name)
        return CollectionSummary(name=name, files=len(self.files), pages=detail.pages, chunks=detail.chunks)


class Catalog(BaseModel):
    revision: str = ""
    collections: dict[str, Collection] = Field(default_factory=dict)


class CollectionCatalog:
    def __init__(self, storage: BlobStorage, redis: Redis) -> None:
        self.storage = storage
        self.redis = redis

    @staticmethod
    def _key(tenant: str) -> str:
        return f"rag/{tenant_key(tenant)}/catalog.json"

    @staticmethod
    def _revision_key(tenant: str) -> str:
        return f"jobs:rag:revision:{tenant_key(tenant)}"

    @staticmethod
    def segment_key(tenant: str, collection: str, file_id: str) -> str:
        """A new key per indexing: a reader holding the old catalog still finds the old blob."""
        return f"rag/{tenant_key(tenant)}/{collection}/{file_id}-{uuid.uuid4().hex[:12]}.npz"

    async def load(self, tenant: str) -> Catalog:
        try:
            raw = await self.storage.get(self._key(tenant))
        except BlobMissing:
            return Catalog()
        return Catalog.model_validate_json(raw)

    async def revision(self, tenant: str) -> str | None:
        """The catalog's revision as last published; None when Redis does not know it (then
        only reading the catalog itself tells)."""
        value = await self.redis.get(self._revision_key(tenant))
        return str(value) if value is not None else None

    async def searched(self, tenant: str, collection: str) -> None:
        """Note that a collection was just searched (a search worker loads these at start)."""
        await self.redis.zadd(RECENT_KEY, {json.dumps([tenant, collection]): time.time()})

    async def recently_searched(self, limit: int) -> list[tuple[str, str]]:
        """The `limit` collections searched last, newest first (older ones are forgotten)."""
        await self.redis.zremrangebyrank(RECENT_KEY, 0, -RECENT_KEEP - 1)
        found: list[tuple[str, str]] = []
        for member in await self.redis.zrevrange(RECENT_KEY, 0, limit - 1):
            tenant, collection = json.loads(cast(str | bytes, member))
            found.append((tenant, collection))
        return found

    async def record(self, tenant: str, collection: str, file_id: str, entry: FileEntry) -> FileEntry | None:
        """Add or replace a file's entry; returns the one it replaced (its segment is then deleted)."""
        async with self.redis.lock(f"jobs:rag:lock:{tenant_key(tenant)}", timeout=LOCK_SECONDS):
            catalog = await self.load(tenant)
            files = catalog.collections.setdefault(collection, Collection()).files
            previous = files.get(file_id)
            files[file_id] = entry
            await self._save(tenant, catalog)
        if previous is not None:
            await self._drop_segments([previous])
        return previous

    async def remove_file(self, tenant: str, collection: str, file_id: str) -> bool:
        async with self.redis.lock(f"jobs:rag:lock:{tenant_key(tenant)}", timeout=LOCK_SECONDS):
            catalog = await self.load(tenant)
            found = catalog.collections.get(collection)
            entry = found.files.pop(file_id, None) if found else None
            if entry is None:
                return False
            await self._save(tenant, catalog)
        await self._drop_segments([entry])
        return True

    async def remove_collection(self, tenant: str, collection: str) -> bool:
        async with self.redis.lock(f"jobs:rag:lock:{tenant_key(tenant)}", timeout=LOCK_SECONDS):
            catalog = await self.load(tenant)
            found = catalog.collections.pop(collection, None)
            if found is None:
                return False
            await self._save(tenant, catalog)
        await self._drop_segments(list(found.files.values()))
        return True

    async def _save(self, tenant: str, catalog: Catalog) -> None:
        catalog.revision = uuid.uuid4().hex
        body = json.dumps(catalog.model_dump(mode="json"), separators=(",", ":")).encode()
        await self.storage.put(self._key(tenant), io.BytesIO(body))
        await self.redis.set(self._revision_key(tenant), catalog.revision)

    async def _drop_segments(self, entries: list[FileEntry]) -> None:
        for entry in entries:
            try:
                await self.storage.delete(entry.segment)
            except Exception as exc:  # left behind: unreferenced, costs space only
                log.warning("segment %s not deleted: %r", entry.segment, exc)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
