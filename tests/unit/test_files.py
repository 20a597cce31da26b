import asyncio
import io
from pathlib import Path

import pytest

from shared.files import FileCatalog, FileMissing, detect_content_type, tenant_key
from shared.storage import LocalStorage
from tests.support import ocr_samples


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ocr_samples.clean_renders()[0].data, "image/png"),
        *(
            (s.data, t)
            for s, t in zip(
                ocr_samples.image_formats(),
                ("image/jpeg", "image/webp", "image/bmp", "image/tiff"),
                strict=True,
            )
        ),
        (ocr_samples.born_digital_pdf().data, "application/pdf"),
        (b"junk before the header %PDF-1.4 ...", "application/pdf"),
        (b"GIF89a...", None),
        (b"PK\x03\x04 a zip", None),
        (b"plain text", None),
        (b"", None),
    ],
)
def test_content_type_comes_from_the_bytes(data: bytes, expected: str | None) -> None:
    assert detect_content_type(data[:1024]) == expected


async def test_files_are_stored_per_tenant(tmp_path: Path) -> None:
    catalog = FileCatalog(LocalStorage(tmp_path))
    info = await catalog.add(
        "acme", filename="a.png", content_type="image/png", size=3, sha256="x", source=io.BytesIO(b"abc")
    )
    assert (await catalog.info("acme", info.id)) == info
    assert (await catalog.content("acme", info.id))[1] == b"abc"
    with pytest.raises(FileMissing):
        await catalog.info("globex", info.id)
    with pytest.raises(FileMissing):
        await catalog.delete("globex", info.id)
    for bad_id in ("../../etc/passwd", "X" * 32, ""):
        with pytest.raises(FileMissing):
            await catalog.info("acme", bad_id)
    await catalog.delete("acme", info.id)
    with pytest.raises(FileMissing):
        await catalog.content("acme", info.id)
    assert not [p for p in await asyncio.to_thread(lambda: list(tmp_path.rglob("*"))) if p.is_file()]


async def test_a_file_streams_and_a_missing_blob_is_missing_before_the_first_byte(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    catalog = FileCatalog(storage)
    data = bytes(range(256)) * 9000  # over two of the storage's 1 MB chunks
    info = await catalog.add(
        "acme",
        filename="a.pdf",
        content_type="application/pdf",
        size=len(data),
        sha256="x",
        source=io.BytesIO(data),
    )
    found, chunks = await catalog.stream("acme", info.id)
    assert found == info
    assert b"".join([chunk async for chunk in chunks]) == data
    with pytest.raises(FileMissing):
        await catalog.stream("globex", info.id)
    await storage.delete(f"files/{tenant_key('acme')}/{info.id}/content")  # metadata left, content gone
    with pytest.raises(FileMissing):
        await catalog.stream("acme", info.id)
