import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import (
    APIRouter,
    Header,
    HTTPException,
    Query,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.responses import StreamingResponse
from pydantic import WithJsonSchema

from services.api.deps import HubDep, JobIdDep, SettingsDep, StoreDep, StreamTenantDep
from services.api.quotas.checks import STREAM_LIMITS, stream_refusal, stream_slot
from services.api.responses import error_responses
from services.api.routes.jobs import NOT_FOUND
from services.api.streaming import job_events, tenant_updates
from shared.schemas.commands import is_job_id
from shared.schemas.streams import StreamItem
from shared.telemetry.metrics import STREAMS_OPEN

router = APIRouter(prefix="/v1/jobs", tags=["streams"], responses=error_responses(401, 503))
tenant_router = APIRouter(prefix="/v1", tags=["streams"], responses=error_responses(401, 503))


def _sse(item: StreamItem | None) -> str:
    if item is None:
        return ": keep-alive\n\n"
    data = json.dumps(item.payload(), separators=(",", ":"))
    return f"event: {item.event}\nid: {item.id}\ndata: {data}\n\n"


def _sse_response(items: AsyncIterator[StreamItem | None]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        with STREAMS_OPEN.labels("sse").track_inprogress():
            yield "retry: 2000\n\n"
            async for item in items:
                yield _sse(item)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{job_id}/events",
    summary="Server-Sent Events: the job's state, then each event until it ends",
    response_class=StreamingResponse,
    dependencies=STREAM_LIMITS,
    responses={
        200: {"content": {"text/event-stream": {}}},
        **error_responses(meaning={404: "No such job", 429: "The tenant has as many streams open as it may"}),
    },
)
async def stream_events(
    job_id: JobIdDep,
    tenant: StreamTenantDep,
    store: StoreDep,
    hub: HubDep,
    settings: SettingsDep,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, description="Resume after this event id."),
        WithJsonSchema({"type": "integer", "minimum": 0}),  # absent, never `null`
    ] = None,
) -> StreamingResponse:
    first = await store.since(tenant, job_id, last_event_id)
    if first is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    keepalive = settings.keepalive_seconds
    return _sse_response(
        job_events(store, hub, tenant, job_id, after=last_event_id, keepalive=keepalive, first=first)
    )


@tenant_router.get(
    "/events",
    summary="Server-Sent Events: each of the caller's jobs as it changes (for live lists)",
    response_class=StreamingResponse,
    dependencies=STREAM_LIMITS,
    responses={
        200: {"content": {"text/event-stream": {}}},
        **error_responses(meaning={429: "The tenant has as many streams open as it may"}),
    },
)
async def stream_tenant_updates(
    tenant: StreamTenantDep, store: StoreDep, hub: HubDep, settings: SettingsDep
) -> StreamingResponse:
    """`event: job` with the job's current state (without its result) whenever it changes;
    nothing is replayed: read `GET /v1/jobs` first, then apply these."""
    return _sse_response(tenant_updates(store, hub, tenant, keepalive=settings.keepalive_seconds))


@router.websocket("/{job_id}/ws")
async def stream_websocket(
    websocket: WebSocket,
    job_id: str,
    store: StoreDep,
    hub: HubDep,
    settings: SettingsDep,
    access_token: Annotated[str | None, Query()] = None,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> None:
    """The same events as `/events`, one JSON message each: `{"event", "id", "data"}`;
    keep-alives are `{"event": "keep-alive"}`. Closes with 1000 after the terminal event,
    4401 on a missing or unknown key, 4404 for an unknown job, 4429 when the tenant has as
    many streams open as it may."""
    await websocket.accept()  # before any close, so that clients see the close code
    try:
        tenant = websocket.app.state.api_keys.authenticate(websocket, access_token)
    except HTTPException:
        await websocket.close(code=4401, reason="missing or unknown API key")
        return
    first = await store.since(tenant, job_id, last_event_id) if is_job_id(job_id) else None
    if first is None:
        await websocket.close(code=4404, reason=NOT_FOUND)
        return
    async with stream_slot(websocket, tenant) as held:
        if not held:
            await websocket.close(code=4429, reason=stream_refusal(websocket, tenant).detail)
            return
        keepalive = settings.keepalive_seconds
        events = job_events(store, hub, tenant, job_id, after=last_event_id, keepalive=keepalive, first=first)
        await _send_events(websocket, events)


async def _send_events(websocket: WebSocket, events: AsyncIterator[StreamItem | None]) -> None:
    with STREAMS_OPEN.labels("websocket").track_inprogress(), contextlib.suppress(WebSocketDisconnect):
        async for item in events:
            if item is None:
                await websocket.send_json({"event": "keep-alive"})
            else:
                await websocket.send_json({"event": item.event, "id": item.id, "data": item.payload()})
        await websocket.close(code=1000)
