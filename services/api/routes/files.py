"""Uploads: stored for the caller's tenant, typed from their bytes, referenced by jobs."""

import asyncio
import hashlib
from pathlib import PurePath
from typing import BinaryIO

from fastapi import APIRouter, HTTPException, Response, UploadFile, status

from services.api.deps import FilesDep, SettingsDep, TenantDep
from services.api.responses import created, error_responses, link
from shared.files import SNIFF_BYTES, FileMissing, detect_content_type
from shared.schemas import SUPPORTED_CONTENT_TYPES, StoredFile
from shared.storage import StorageUnavailable

router = APIRouter(prefix="/v1/files", tags=["files"], responses=error_responses(401, 503))

NOT_FOUND = "no such file"
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes of a multipart body beyond the file itself (boundaries, part headers)."""


def _measure(source: BinaryIO) -> tuple[int, str]:
    """Size and sha256, reading the spooled upload in chunks (never all in memory)."""
    digest = hashlib.sha256()
    size = 0
    source.seek(0)
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    return size, digest.hexdigest()


def _display_name(filename: str | None) -> str:
    name = PurePath((filename or "").replace("\\", "/")).name
    return "".join(c for c in name if c.isprintable())[:255] or "upload"


def _unavailable(exc: Exception) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"file storage unavailable, try again later ({exc})",
        headers={"Retry-After": "5"},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file (multipart field `file`)",
    responses={
        201: created(
            "file",
            GetFile=link("GET", "/v1/files/{file_id}", file_id="$response.body#/id"),
            DeleteFile=link("DELETE", "/v1/files/{file_id}", file_id="$response.body#/id"),
        ),
        **error_responses(400, 413, 415),
    },
    # What the upload is judged by: its bytes must be one of these types (415 otherwise).
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "encoding": {"file": {"contentType": ", ".join(SUPPORTED_CONTENT_TYPES)}}
                }
            }
        }
    },
)
async def upload_file(
    file: UploadFile, tenant: TenantDep, files: FilesDep, settings: SettingsDep, response: Response
) -> StoredFile:
    content_type = detect_content_type(await file.read(SNIFF_BYTES))
    if content_type is None:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"unsupported file type; supported: {', '.join(SUPPORTED_CONTENT_TYPES)}",
        )
    size, sha256 = await asyncio.to_thread(_measure, file.file)
    if size > settings.max_upload_bytes:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"file exceeds {settings.max_upload_bytes} bytes"
        )
    try:
        stored = await files.add(
            tenant,
            filename=_display_name(file.filename),
            content_type=content_type,
            size=size,
            sha256=sha256,
            source=file.file,
        )
    except StorageUnavailable as exc:
        raise _unavailable(exc) from exc
    response.headers["Location"] = f"/v1/files/{stored.id}"
    return stored


@router.get(
    "/{file_id}", summary="A file's metadata", responses=error_responses(meaning={404: "No such file"})
)
async def get_file(file_id: str, tenant: TenantDep, files: FilesDep) -> StoredFile:
    try:
        return await files.info(tenant, file_id)
    except FileMissing as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from exc
    except StorageUnavailable as exc:
        raise _unavailable(exc) from exc


@router.delete(
    "/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a file",
    responses=error_responses(meaning={404: "No such file"}),
)
async def delete_file(file_id: str, tenant: TenantDep, files: FilesDep) -> None:
    try:
        await files.delete(tenant, file_id)
    except FileMissing as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from exc
    except StorageUnavailable as exc:
        raise _unavailable(exc) from exc
