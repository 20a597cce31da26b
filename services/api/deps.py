"""Typed dependencies; everything here is built once, in the lifespan.

Every dependency is `async def` although none awaits: FastAPI runs a plain `def` dependency
on a worker thread, a thread hop per dependency per request that the profile showed
(bench/README.md); these only read attributes, so the event loop runs them inline."""

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.requests import HTTPConnection

from services.api.auth import ApiKeys
from services.api.settings import ApiSettings
from services.api.streaming import UpdateHub
from shared.control import JobControl
from shared.files import FileCatalog
from shared.messaging import Publisher
from shared.readmodel import JobStore

__all__ = ["ControlDep", "FilesDep", "HubDep", "PublisherDep", "SettingsDep", "StoreDep", "TenantDep"]


async def get_store(conn: HTTPConnection) -> JobStore:
    return conn.app.state.store  # type: ignore[no-any-return]


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


async def get_tenant(
    request: Request,
    access_token: Annotated[str | None, Query(description="For EventSource clients only.")] = None,
) -> str:
    keys: ApiKeys = request.app.state.api_keys
    return keys.authenticate(request, access_token)


StoreDep = Annotated[JobStore, Depends(get_store)]
ControlDep = Annotated[JobControl, Depends(get_control)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
HubDep = Annotated[UpdateHub, Depends(get_hub)]
FilesDep = Annotated[FileCatalog, Depends(get_files)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
TenantDep = Annotated[str, Depends(get_tenant)]
