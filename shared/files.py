"""Uploaded files of a tenant: content and metadata in blob storage, type from the bytes.

Keys are `files/<tenant key>/<file id>/{content,meta.json}`. The tenant is part of
the key, so a file id is only ever looked up under the caller's own tenant: another
tenant's file is indistinguishable from one that does not exist. A file past its
`expires_at` (set at upload from the catalog's `ttl`) is missing too, for every reader.
"""

import hashlib
import io
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from pydantic import ValidationError

from shared.schemas import OPERATIONS, JobCommand, StoredFile
from shared.storage import BlobMissing, BlobStorage, StorageUnavailable
from shared.worker import JobFailure, TransientError

__all__ = [
    "SNIFF_BYTES",
    "FileCatalog",
    "FileMissing",
    "detect_content_type",
    "new_file_id",
    "read_job_file",
    "tenant_key",
]

log = logging.getLogger(__name__)

SNIFF_BYTES = 1024
"""How much of the start of a file type detection needs (a PDF header may sit this far in)."""


class FileMissing(Exception):
    """No such file for this tenant."""


def detect_content_type(head: bytes) -> str | None:
    """The content type from a file's first bytes (magic numbers), or None if unsupported."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(head) >= 26:
        return "image/bmp"
    if b"%PDF-" in head[:SNIFF_BYTES]:  # the spec lets a PDF header follow a little junk
        return "application/pdf"
    return None


def tenant_key(tenant: str) -> str:
    """Tenant names come from configuration and from messages: hash them into a fixed,
    path-safe segment rather than trusting their characters (files, collections)."""
    return hashlib.sha256(tenant.encode()).hexdigest()[:32]


_tenant_key = tenant_key


def new_file_id() -> str:
    return uuid.uuid4().hex


def _valid_id(file_id: str) -> bool:
    return len(file_id) == 32 and all(c in "0123456789abcdef" for c in file_id)


class FileCatalog:
    def __init__(self, storage: BlobStorage, *, ttl: timedelta | None = None) -> None:
        """`ttl`: how long files added here live (None: until deleted)."""
        self.storage = storage
        self.ttl = ttl

    def expiry(self, now: datetime) -> datetime | None:
        return now + self.ttl if self.ttl else None

    def _key(self, tenant: str, file_id: str, part: str) -> str:
        return f"files/{_tenant_key(tenant)}/{file_id}/{part}"

    async def add(
        self,
        tenant: str,
        *,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
        source: BinaryIO,
        file_id: str | None = None,
        created_at: datetime | None = None,
    ) -> StoredFile:
        """Store the content read from `source` and its metadata; metadata last, so a
        file is visible only once its content is complete."""
        created_at = created_at or datetime.now(UTC)
        info = StoredFile(
            id=file_id or new_file_id(),
            filename=filename,
            content_type=content_type,
            size=size,
            sha256=sha256,
            created_at=created_at,
            expires_at=self.expiry(created_at),
        )
        await self.storage.put(self._key(tenant, info.id, "content"), source)
        await self.storage.put(
            self._key(tenant, info.id, "meta.json"), io.BytesIO(info.model_dump_json().encode())
        )
        return info

    async def info(self, tenant: str, file_id: str) -> StoredFile:
        if not _valid_id(file_id):
            raise FileMissing(file_id)
        try:
            raw = await self.storage.get(self._key(tenant, file_id, "meta.json"))
        except BlobMissing as exc:
            raise FileMissing(file_id) from exc
        try:
            info = StoredFile.model_validate_json(raw)
        except ValidationError as exc:
            raise FileMissing(file_id) from exc
        if info.expires_at is not None and info.expires_at <= datetime.now(UTC):
            raise FileMissing(file_id)
        return info

    async def content(self, tenant: str, file_id: str) -> tuple[StoredFile, bytes]:
        info = await self.info(tenant, file_id)
        try:
            return info, await self.storage.get(self._key(tenant, file_id, "content"))
        except BlobMissing as exc:
            raise FileMissing(file_id) from exc

    async def stream(self, tenant: str, file_id: str) -> tuple[StoredFile, AsyncIterator[bytes]]:
        """The metadata and the content in chunks, the first chunk already read: a missing
        blob raises FileMissing here rather than cutting an answer off."""
        info = await self.info(tenant, file_id)
        chunks = self.storage.stream(self._key(tenant, file_id, "content"))
        try:
            first = await anext(chunks, b"")
        except BlobMissing as exc:
            raise FileMissing(file_id) from exc

        async def content() -> AsyncIterator[bytes]:
            yield first
            async for chunk in chunks:
                yield chunk

        return info, content()

    async def delete(self, tenant: str, file_id: str) -> None:
        """Raises FileMissing when the tenant has no such file."""
        await self.info(tenant, file_id)
        await self.remove(tenant, file_id)

    async def remove(self, tenant: str, file_id: str) -> None:
        """Delete a file's blobs, whatever state it is in (expired files included)."""
        if not _valid_id(file_id):
            return
        await self.storage.delete(self._key(tenant, file_id, "meta.json"))
        await self.storage.delete(self._key(tenant, file_id, "content"))


async def read_job_file(files: FileCatalog, command: JobCommand, file_id: str) -> tuple[StoredFile, bytes]:
    """A job's input file: the job's tenant's, of a type its operation reads (the API checks
    both at submission; the file may have been deleted since, or the job published directly)."""
    try:
        info, data = await files.content(command.tenant, file_id)
    except FileMissing as exc:
        raise JobFailure("file_not_found", f"no file {file_id} for this tenant") from exc
    except StorageUnavailable as exc:
        log.warning("file storage unavailable: %s", exc)  # the endpoint stays in the log
        raise TransientError("storage_unavailable", "file storage did not answer") from exc
    accepted = OPERATIONS[command.operation].file_types
    if info.content_type not in accepted:
        raise JobFailure(
            "unsupported_file_type",
            f"{command.operation} reads {', '.join(accepted)}; file {info.id} is {info.content_type}",
        )
    return info, data
