"""The HTTP API: submit jobs, read them, follow them live."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.middleware.gzip import GZipMiddleware

from services.api.auth import ApiKeys, parse_api_keys
from services.api.file_links import FileLinks
from services.api.limits import BodySizeLimit
from services.api.observability import RequestTelemetry
from services.api.page_security import PageSecurity
from services.api.quotas.checks import TenantQuotas
from services.api.quotas.storage import StorageLedger
from services.api.quotas.stream_slots import StreamSlots
from services.api.quotas.submit_rate import SubmitRate
from services.api.responses import method_not_allowed
from services.api.routes import (
    collections,
    contract,
    files,
    health,
    jobs,
    metrics,
    operations,
    queues,
    streams,
)
from services.api.search_client import SearchClient
from services.api.settings import ApiSettings
from services.api.streaming import UpdateHub
from shared.collections import CollectionCatalog
from shared.control import JobControl
from shared.files import FileCatalog
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.results import ResultStore
from shared.schemas import OPERATIONS
from shared.storage import open_storage
from shared.submissions import SubmissionLedger
from shared.telemetry.metrics import serve_metrics

__all__ = ["create_app"]

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).parent / "ui"


async def _connect_broker(settings: ApiSettings) -> Publisher:
    deadline = asyncio.get_running_loop().time() + settings.broker_connect_timeout
    while True:
        try:
            return await Publisher.connect(
                settings.amqp_url, name="api", publish_timeout=settings.publish_timeout
            )
        except (ConnectionError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("broker not reachable (%s); retrying", exc)
            await asyncio.sleep(1)


def _tenant_quotas(settings: ApiSettings, redis: Redis) -> TenantQuotas:
    return TenantQuotas(
        submit_rate=SubmitRate(redis, rate=settings.tenant_submit_rate, burst=settings.tenant_submit_burst),
        streams=StreamSlots(redis, limit=settings.tenant_max_streams),
        storage=StorageLedger(redis, limit=settings.tenant_max_storage_bytes),
        max_active_jobs=settings.tenant_max_active_jobs,
    )


def create_app(settings: ApiSettings) -> FastAPI:
    api_keys = ApiKeys(parse_api_keys(settings.api_keys))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = settings.redis()
        publisher = await _connect_broker(settings)
        hub = UpdateHub(redis)
        hub.start()
        serve_metrics(settings.metrics_host, settings.metrics_port)  # 0: no internal listener
        quotas = _tenant_quotas(settings, redis)
        quotas.streams.start()
        app.state.store = JobStore(redis)
        app.state.control = JobControl(redis)
        app.state.ledger = SubmissionLedger(redis)
        app.state.publisher = publisher
        storage = open_storage(settings.storage)
        app.state.files = FileCatalog(storage, ttl=settings.file_ttl)
        app.state.file_links = FileLinks(redis, timedelta(seconds=settings.file_link_seconds))
        app.state.results = ResultStore(storage)
        app.state.collections = CollectionCatalog(storage, redis)
        search = await SearchClient.connect(settings.amqp_url, settings.search_timeout)
        app.state.search = search
        app.state.hub = hub
        app.state.quotas = quotas
        try:
            yield
        finally:
            await quotas.streams.stop()
            await hub.stop()
            await search.close()
            await publisher.close()
            await redis.aclose()

    listed = "\n".join(f"- `{op.name}`: {op.description}" for op in OPERATIONS.values())
    app = FastAPI(
        title="Jobs platform",
        version="1",
        description=f"Long-running jobs behind an HTTP API.\n\nOperations:\n{listed}\n\n"
        "Jobs can also be submitted straight to RabbitMQ: the broker contract is the AsyncAPI document,"
        " [rendered](/asyncapi) or as [asyncapi.yaml](/asyncapi.yaml).",
        lifespan=lifespan,
        exception_handlers={405: method_not_allowed},
    )
    app.state.settings = settings
    app.state.api_keys = api_keys
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        per_path={"/v1/files": settings.max_upload_bytes + files.MULTIPART_OVERHEAD},
    )
    app.add_middleware(PageSecurity)
    app.add_middleware(RequestTelemetry)  # outermost: sees every answer, 413 included
    # /metrics: on the internal listener when API_METRICS_PORT is set, else here for admin keys.
    public_metrics = [metrics.router] if settings.metrics_port == 0 else []
    for router in (
        health.router,
        *public_metrics,
        operations.router,
        queues.router,
        jobs.router,
        streams.router,
        streams.tenant_router,
        files.router,
        collections.router,
        contract.router,
    ):
        app.include_router(router)
    # The viewer script is 3 MB; compressed (about 0.6 MB) only here, never on the event streams.
    app.mount(
        "/asyncapi/assets",
        GZipMiddleware(StaticFiles(directory=contract.VIEWER_DIR, check_dir=False), minimum_size=1024),
        name="asyncapi-assets",
    )
    # The dashboard: static files; every call it makes carries the key the user typed in.
    app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    @app.exception_handler(RedisOutOfMemoryError)  # at maxmemory with nothing left to evict
    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("redis unavailable on %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "job store unavailable, try again later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    return app
