"""Typed dependencies; everything here is built once, in the lifespan.

Every dependency is `async def` although none awaits: FastAPI runs a plain `def` dependency
on a worker thread, a thread hop per dependency per request that the profile showed
(bench/README.md); these only read attributes, so the event loop runs them inline."""

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from starlette.requests import HTTPConnection

from services.api.auth import ApiKeys
from services.api.settings import ApiSettings
from services.api.streaming import UpdateHub
from shared.control import JobControl
from shared.files import FileCatalog
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas.commands import is_job_id
from shared.submissions import SubmissionLedger

__all__ = [
    "AdminDep",
    "ControlDep",
    "FilesDep",
    "HubDep",
    "JobIdDep",
    "LedgerDep",
    "PublisherDep",
    "SettingsDep",
    "StoreDep",
    "StreamTenantDep",
    "TenantDep",
]


async def get_store(conn: HTTPConnection) -> JobStore:
    return conn.app.state.store  # type: ignore[no-any-return]


async def get_ledger(conn: HTTPConnection) -> SubmissionLedger:
    return conn.app.state.ledger  # type: ignore[no-any-return]


async def get_control(conn: HTTPConnection) -> JobControl:
    return conn.app.state.control  # type: ignore[no-any-return]


async def get_publisher(request: Request) -> Publisher:
    return request.app.state.publisher  # type: ignore[no-any-return]


async def get_hub(conn: HTTPConnection) -> UpdateHub:
    return conn.app.state.hub  # type: ignore[no-any-return]


async def get_files(conn: HTTPConnection) -> FileCatalog:
    return conn.app.state.files  # type: ignore[no-any-return]


async def get_settings(conn: HTTPConnection) -> ApiSettings:
    return conn.app.state.settings  # type: ignore[no-any-return]


async def get_tenant(request: Request) -> str:
    keys: ApiKeys = request.app.state.api_keys
    return keys.authenticate(request)


async def get_stream_tenant(
    request: Request,
    access_token: Annotated[
        str | None, Query(description="The API key, for browser EventSource clients that cannot set headers.")
    ] = None,
) -> str:
    """Only the streams take the key in the query (and the logs never show a query string)."""
    keys: ApiKeys = request.app.state.api_keys
    return keys.authenticate(request, access_token)


async def get_job_id(job_id: str) -> str:
    """A path's job id; one that no job can have is a 404 like an unknown one (never a
    Redis key of some other kind: `<id>:log` would be a WRONGTYPE error, a 500)."""
    if not is_job_id(job_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such job")
    return job_id


StoreDep = Annotated[JobStore, Depends(get_store)]
LedgerDep = Annotated[SubmissionLedger, Depends(get_ledger)]
ControlDep = Annotated[JobControl, Depends(get_control)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
HubDep = Annotated[UpdateHub, Depends(get_hub)]
FilesDep = Annotated[FileCatalog, Depends(get_files)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
TenantDep = Annotated[str, Depends(get_tenant)]
JobIdDep = Annotated[str, Depends(get_job_id)]


async def get_admin(tenant: TenantDep, settings: SettingsDep) -> str:
    """A tenant named in API_ADMIN_TENANTS: may read numbers about the whole platform."""
    if tenant not in settings.admins:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs an admin key (API_ADMIN_TENANTS)")
    return tenant


AdminDep = Annotated[str, Depends(get_admin)]
StreamTenantDep = Annotated[str, Depends(get_stream_tenant)]
