"""The S3-compatible backend against a real S3 API: moto in server mode on 127.0.0.1."""

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest

from shared.files import FileCatalog, FileMissing, _tenant_key
from shared.storage import BlobMissing, S3Storage, StorageSettings, StorageUnavailable, open_storage
from tools.devstack import free_port, wait_until

pytestmark = pytest.mark.integration


def s3_settings_for(endpoint: str, bucket: str, prefix: str = "") -> StorageSettings:
    return StorageSettings(
        backend="s3",
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        s3_prefix=prefix,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_region="us-east-1",
    )


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url, timeout=1).status_code < 500, 60, "moto server")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_settings(s3_endpoint: str) -> StorageSettings:
    bucket = f"files-{os.urandom(4).hex()}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    return s3_settings_for(s3_endpoint, bucket, "jobs/")


async def test_blobs_round_trip_through_s3(s3_settings: StorageSettings) -> None:
    storage = open_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    big = os.urandom(9 * 1024 * 1024)  # above boto3's 8 MB threshold: a multipart upload
    await storage.put("a/b", io.BytesIO(big))
    assert await storage.get("a/b") == big
    await storage.delete("a/b")
    with pytest.raises(BlobMissing):
        await storage.get("a/b")
    await storage.delete("a/b")  # deleting what is gone is fine


async def test_the_file_catalog_works_unchanged_on_s3(s3_settings: StorageSettings) -> None:
    catalog = FileCatalog(open_storage(s3_settings))
    info = await catalog.add(
        "acme", filename="x.png", content_type="image/png", size=3, sha256="s", source=io.BytesIO(b"png")
    )
    assert await catalog.content("acme", info.id) == (info, b"png")
    with pytest.raises(FileMissing):
        await catalog.info("globex", info.id)
    keys = boto3.client(
        "s3",
        endpoint_url=s3_settings.s3_endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).list_objects_v2(Bucket=s3_settings.s3_bucket)
    assert all(item["Key"].startswith("jobs/files/") for item in keys["Contents"])
    await catalog.delete("acme", info.id)
    with pytest.raises(FileMissing):
        await catalog.info("acme", info.id)


async def test_an_unreachable_endpoint_is_storage_unavailable() -> None:
    settings = s3_settings_for(f"http://127.0.0.1:{free_port()}", "b")
    with pytest.raises(StorageUnavailable):
        await open_storage(settings).get("anything")


@pytest.mark.parametrize("backend", ["local", "s3"])
async def test_an_expired_file_is_missing_and_removable_on_both_backends(
    backend: str, s3_settings: StorageSettings, tmp_path: Path
) -> None:
    settings = s3_settings if backend == "s3" else StorageSettings(backend="local", dir=tmp_path)
    catalog = FileCatalog(open_storage(settings), ttl=timedelta(days=1))
    fresh = await catalog.add(
        "acme", filename="a.png", content_type="image/png", size=3, sha256="s", source=io.BytesIO(b"png")
    )
    assert fresh.expires_at == fresh.created_at + timedelta(days=1)
    assert await catalog.info("acme", fresh.id) == fresh
    old = await catalog.add(
        "acme",
        filename="b.png",
        content_type="image/png",
        size=3,
        sha256="s",
        source=io.BytesIO(b"png"),
        created_at=datetime.now(UTC) - timedelta(days=1, seconds=1),
    )
    for read in (catalog.info, catalog.content, catalog.delete):
        with pytest.raises(FileMissing):
            await read("acme", old.id)
    await catalog.remove("acme", old.id)  # what the API does with an expired file's blobs
    with pytest.raises(BlobMissing):
        await catalog.storage.get(f"files/{_tenant_key('acme')}/{old.id}/content")
    assert await catalog.info("acme", fresh.id) == fresh
