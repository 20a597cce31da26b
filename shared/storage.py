"""Blob storage shared by the API (writes uploads) and the workers (read them).

One small interface, two backends: a local directory (the default; every service
on the machine must see the same path) and an S3-compatible object store (AWS S3,
MinIO, Ceph) for deployments across machines. Both are blocking underneath, so
every call runs on a worker thread and the event loop never waits on disk or network.
"""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "BlobMissing",
    "BlobStorage",
    "LocalStorage",
    "S3Storage",
    "StorageSettings",
    "StorageUnavailable",
    "UsesStorage",
    "open_storage",
]


CHUNK = 1 << 20
"""Bytes per read when streaming a blob."""


class BlobMissing(Exception):
    """No blob under that key."""


class StorageUnavailable(Exception):
    """The backend did not answer (worth retrying later)."""


class BlobStorage(Protocol):
    description: str

    async def put(self, key: str, source: BinaryIO) -> None:
        """Store the rest of `source` under `key`, streaming (never all in memory)."""

    async def get(self, key: str) -> bytes: ...

    def stream(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """The blob in chunks, read as they are sent on (`BlobMissing` from the first one)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key` if present (no error when it is not)."""

    async def delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        """Remove every blob under `prefix` last written before `cutoff`; how many went."""


class StorageSettings(BaseSettings):
    """Read by the API and every worker (uploads, results by reference): all must see the same storage."""

    model_config = SettingsConfigDict(env_prefix="STORAGE_", extra="ignore")

    backend: Literal["local", "s3"] = Field("local", description="`local` directory or `s3`-compatible.")
    dir: Path = Field(Path("data/files"), description="Local backend: the directory all services share.")
    s3_bucket: str = Field("", description="S3 backend: the bucket (it must exist).")
    s3_prefix: str = Field("", description="Key prefix inside the bucket, e.g. `jobs/`.")
    s3_endpoint_url: str | None = Field(None, description="MinIO/Ceph/moto URL; unset for AWS S3.")
    s3_region: str | None = Field(None, description="S3 backend: the region, e.g. `us-east-1`.")
    s3_access_key_id: str | None = Field(None, description="Unset: boto3's usual credential chain.")
    s3_secret_access_key: str | None = Field(None, description="Unset: boto3's usual credential chain.")


class UsesStorage(BaseSettings):
    """Mixed into the settings of a service that reads or writes uploads or results by
    reference (the API and every worker)."""

    storage: StorageSettings = Field(
        default_factory=StorageSettings,
        description="Where uploads and large results live (`STORAGE_*` variables).",
    )


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.description = f"local directory {self.root}"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):  # keys are built by us, but never trust a path
            raise ValueError(f"key {key!r} leaves the storage directory")
        return path

    def _put(self, key: str, source: BinaryIO) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target, then rename: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    async def put(self, key: str, source: BinaryIO) -> None:
        await asyncio.to_thread(self._put, key, source)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    def _open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc

    async def stream(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        source = await asyncio.to_thread(self._open, key)
        try:
            while chunk := await asyncio.to_thread(source.read, chunk_size):
                yield chunk
        finally:
            source.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def _delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        top = self._path(prefix)
        gone = 0
        for path in top.rglob("*") if top.is_dir() else ():
            if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
                gone += 1
        return gone

    async def delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        return await asyncio.to_thread(self._delete_older_than, prefix, cutoff)


class S3Storage:
    def __init__(self, settings: StorageSettings) -> None:
        import boto3
        from botocore.config import Config

        if not settings.s3_bucket:
            raise ValueError("STORAGE_S3_BUCKET must be set for the s3 backend")
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30
            ),
        )
        self._bucket = settings.s3_bucket
        self._prefix = settings.s3_prefix
        self.description = f"s3 bucket {self._bucket} at {settings.s3_endpoint_url or 'AWS'}"

    async def _call(self, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await asyncio.to_thread(getattr(self._client, method), **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise BlobMissing(kwargs.get("Key", "")) from exc
            if code.startswith("5") or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
                raise StorageUnavailable(f"{method}: {code}") from exc
            raise
        except BotoCoreError as exc:  # connection refused, timeouts, ...
            raise StorageUnavailable(f"{method}: {exc}") from exc

    async def put(self, key: str, source: BinaryIO) -> None:
        # upload_fileobj streams in parts (multipart upload above 8 MB).
        await self._call("upload_fileobj", Fileobj=source, Bucket=self._bucket, Key=self._prefix + key)

    async def get(self, key: str) -> bytes:
        response = await self._call("get_object", Bucket=self._bucket, Key=self._prefix + key)
        body: bytes = await asyncio.to_thread(response["Body"].read)
        return body

    async def stream(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        response = await self._call("get_object", Bucket=self._bucket, Key=self._prefix + key)
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self._bucket, Key=self._prefix + key)

    async def delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        # A bucket lifecycle rule on the prefix does the same without a sweep (docs/operations.md).
        gone, token = 0, None
        while True:
            page = await self._call(
                "list_objects_v2",
                Bucket=self._bucket,
                Prefix=self._prefix + prefix,
                **({"ContinuationToken": token} if token else {}),
            )
            old = [{"Key": o["Key"]} for o in page.get("Contents", []) if o["LastModified"] < cutoff]
            if old:
                await self._call(
                    "delete_objects", Bucket=self._bucket, Delete={"Objects": old, "Quiet": True}
                )
                gone += len(old)
            token = page.get("NextContinuationToken")
            if not token:
                return gone


def open_storage(settings: StorageSettings) -> BlobStorage:
    if settings.backend == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.dir)
