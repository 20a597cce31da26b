"""Typed dependencies; everything here is built once, in the lifespan.

Every dependency is `async def` although none awaits: FastAPI runs a plain `def` dependency
on a worker thread, a thread hop per dependency per request that the profile showed
(bench/README.md); these only read attributes, so the event loop runs them inline."""

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar, cast

from fastapi import Depends, HTTPException, Query, Request, status
from starlette.requests import HTTPConnection

from services.api.auth import ApiKeys
from services.api.file_links import FileLinks
from services.api.settings import ApiSettings
from services.api.streaming import UpdateHub
from shared.control import JobControl
from shared.files import FileCatalog
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.results import ResultStore
from shared.schemas.commands import is_job_id
from shared.submissions import SubmissionLedger

__all__ = [
    "AdminDep",
    "ControlDep",
    "FileLinksDep",
    "FilesDep",
    "HubDep",
    "JobIdDep",
    "LedgerDep",
    "PublisherDep",
    "ResultsDep",
    "SettingsDep",
    "StoreDep",
    "StreamTenantDep",
    "TenantDep",
]


T = TypeVar("T")


def _from_state(name: str, kind: type[T]) -> Callable[[HTTPConnection], Awaitable[T]]:
    """A dependency reading what the lifespan put in `app.state.<name>` (a `kind`)."""

    async def get(conn: HTTPConnection) -> T:
        return cast(T, getattr(conn.app.state, name))

    get.__name__ = f"get_{name}"
    return get


get_store = _from_state("store", JobStore)
get_ledger = _from_state("ledger", SubmissionLedger)
get_control = _from_state("control", JobControl)
get_publisher = _from_state("publisher", Publisher)
get_hub = _from_state("hub", UpdateHub)
get_files = _from_state("files", FileCatalog)
get_file_links = _from_state("file_links", FileLinks)
get_results = _from_state("results", ResultStore)
get_settings = _from_state("settings", ApiSettings)


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
FileLinksDep = Annotated[FileLinks, Depends(get_file_links)]
ResultsDep = Annotated[ResultStore, Depends(get_results)]
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
