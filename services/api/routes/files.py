"""Uploads: stored for the caller's tenant, typed from their bytes, referenced by jobs."""

import asyncio
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Annotated, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from services.api.deps import FileLinksDep, FilesDep, SettingsDep, TenantDep, get_tenant
from services.api.errors import unavailable
from services.api.file_links import TICKET_MAX_LENGTH, FileLinks
from services.api.quotas.checks import QuotasDep, refusal
from services.api.responses import created, error_responses, link
from shared.files import SNIFF_BYTES, FileCatalog, FileMissing, detect_content_type, new_file_id
from shared.schemas import SUPPORTED_CONTENT_TYPES, StoredFile
from shared.schemas.files import FileLink
from shared.storage import StorageUnavailable

router = APIRouter(prefix="/v1/files", tags=["files"], responses=error_responses(401, 503))
log = logging.getLogger(__name__)

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
        **error_responses(
            400, 415, meaning={413: "Over the upload size limit, or the tenant's storage quota is full"}
        ),
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
    file: UploadFile,
    tenant: TenantDep,
    files: FilesDep,
    settings: SettingsDep,
    quotas: QuotasDep,
    response: Response,
) -> StoredFile:
    """Kept for `API_FILE_TTL_DAYS` (see `expires_at`), counted in the tenant's storage quota."""
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
    ledger = quotas.storage
    file_id, created_at = new_file_id(), datetime.now(UTC)
    reservation = await ledger.reserve(tenant, file_id, size, files.expiry(created_at))
    await _remove_expired(files, tenant, reservation.expired)
    if not reservation.taken:
        raise refusal(
            tenant,
            "storage_bytes",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"storage quota full: this tenant keeps {reservation.used} of {ledger.limit} bytes and the "
            f"file has {size}; delete files first",
        )
    try:
        stored = await files.add(
            tenant,
            filename=_display_name(file.filename),
            content_type=content_type,
            size=size,
            sha256=sha256,
            source=file.file,
            file_id=file_id,
            created_at=created_at,
        )
    except BaseException as exc:
        await ledger.release(tenant, file_id)
        if isinstance(exc, StorageUnavailable):
            raise unavailable("file storage", exc) from exc
        raise
    response.headers["Location"] = f"/v1/files/{stored.id}"
    return stored


@router.get(
    "/{file_id}", summary="A file's metadata", responses=error_responses(meaning={404: "No such file"})
)
async def get_file(file_id: str, tenant: TenantDep, files: FilesDep) -> StoredFile:
    with _file_errors():
        return await files.info(tenant, file_id)


async def get_reader_tenant(
    request: Request,
    file_id: str,
    ticket: Annotated[
        str | None,
        Query(
            max_length=TICKET_MAX_LENGTH,
            description="A file link's ticket (`POST /v1/files/{file_id}/link`): opens this file "
            "without a key until the link expires. Ignored when an `Authorization` header is sent.",
        ),
    ] = None,
) -> str:
    """The tenant whose file is read: the key's, or, without a key, the ticket's."""
    if ticket is None or request.headers.get("authorization"):
        return await get_tenant(request)
    links: FileLinks = request.app.state.file_links
    tenant = await links.opens(ticket, file_id)
    if tenant is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this file link has expired or opens another file: ask for a new one "
            "(POST /v1/files/{file_id}/link), or send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return tenant


@router.get(
    "/{file_id}/content",
    summary="A file's bytes (with a key, or a file link without one)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file as uploaded, its type the detected one, shown inline",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in SUPPORTED_CONTENT_TYPES
            },
        },
        **error_responses(meaning={404: "No such file"}),
    },
)
async def get_file_content(
    file_id: str, tenant: Annotated[str, Depends(get_reader_tenant)], files: FilesDep
) -> StreamingResponse:
    """Streamed from the file storage. A PDF opens at a page with `#page=N` after the URL."""
    with _file_errors():
        info, content = await files.stream(tenant, file_id)
    return StreamingResponse(
        content,
        media_type=info.content_type,
        headers={
            "Content-Length": str(info.size),
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(info.filename, safe='')}",
            # the type is the detected one (a PDF or an image, never HTML): no sniffing
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",  # a link in the PDF must not carry the ticket away
            "Cache-Control": "private",
        },
    )


@router.post(
    "/{file_id}/link",
    status_code=status.HTTP_201_CREATED,
    summary="A link that opens the file without a key, for a while",
    responses={
        201: created("file link"),
        **error_responses(meaning={404: "No such file"}),
    },
)
async def link_file(
    file_id: str, tenant: TenantDep, files: FilesDep, links: FileLinksDep, response: Response
) -> FileLink:
    """For browsers, whose links and new tabs cannot send the `Authorization` header (the
    dashboard's source links): `url` opens this file alone, for `API_FILE_LINK_SECONDS`."""
    with _file_errors():
        await files.info(tenant, file_id)
    ticket = await links.issue(tenant, file_id)
    url = f"/v1/files/{file_id}/content?ticket={ticket.value}"
    response.headers["Location"] = url
    return FileLink(url=url, expires_at=ticket.expires_at)


@router.delete(
    "/{file_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a file",
    responses=error_responses(meaning={404: "No such file"}),
)
async def delete_file(file_id: str, tenant: TenantDep, files: FilesDep, quotas: QuotasDep) -> None:
    with _file_errors():
        await files.delete(tenant, file_id)
    await quotas.storage.release(tenant, file_id)


@contextmanager
def _file_errors() -> Iterator[None]:
    """A missing file (or another tenant's) is a 404, an unreachable storage a 503."""
    try:
        yield
    except FileMissing as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from exc
    except StorageUnavailable as exc:
        raise unavailable("file storage", exc) from exc


async def _remove_expired(files: FileCatalog, tenant: str, file_ids: list[str]) -> None:
    """Delete the blobs of files the ledger has let go; one left behind is logged, not fatal
    (it is already a 404 and no longer counts)."""
    for file_id in file_ids:
        try:
            await files.remove(tenant, file_id)
        except StorageUnavailable as exc:
            log.warning("expired file %s of %s not deleted: %s", file_id, tenant, exc)
