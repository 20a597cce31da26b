import asyncio
import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import aio_pika
import httpx
import pytest
from yarl import URL

from shared.schemas.topology import (
    EVENTS_EXCHANGE,
    JOBS_EXCHANGE,
    LLM_QUEUE,
    NER_QUEUE,
    OCR_QUEUE,
    PIPELINE_QUEUE,
    RAG_QUEUE,
)
from tests.support.chat_server import ScriptedChatServer
from tests.support.infra import Infra
from tests.support.otlp_collector import OtlpCollector
from tools.broker.permissions import exactly, tenant_grant
from tools.broker.rabbitmqctl import Rabbitmqctl
from tools.devstack import Launcher, Process, free_port, wait_ready

KEYS = {
    "alpha": "key-alpha-0123456789",
    "beta": "key-beta-0123456789",
    "conformance": "key-conformance-0123456789",
}


@dataclass
class Stack:
    base_url: str
    services: dict[str, Process]
    amqp: aio_pika.abc.AbstractRobustConnection
    amqp_user: str = "guest"
    """The broker user `amqp` logs in as (guest on a development broker): a platform user."""
    metrics: dict[str, str] = field(default_factory=dict)
    """Each worker's /metrics URL, by service name."""

    def client(self, tenant: str = "alpha") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {KEYS[tenant]}"}, timeout=30
        )

    async def consumers(self, queue: str) -> int:
        channel = await self.amqp.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.consumer_count or 0)
        finally:
            await channel.close()

    async def wait_reading_history(self, within: float = 60) -> None:
        """The projector reads the job history stream (a stream's consumers are not counted in
        a passive declare's answer, so its log says it)."""
        deadline = asyncio.get_running_loop().time() + within
        while "reading the job history from" not in self.services["projector"].log_text():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"the projector does not read the history:\n{self.services['projector'].log_tail()}"
                )
            await asyncio.sleep(0.2)

    async def wait_consuming(self, queue: str, within: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while await self.consumers(queue) < 1:
            if asyncio.get_running_loop().time() > deadline:
                logs = "\n".join(s.log_tail() for s in self.services.values())
                raise TimeoutError(f"nothing consumes {queue}:\n{logs}")
            await asyncio.sleep(0.2)


UPLOAD_LIMIT = 1024 * 1024
OCR_MAX_PAGES = 5


@dataclass(frozen=True)
class BrokerUser:
    name: str
    url: str


@pytest.fixture(scope="session")
def direct_publishers(infra: Infra) -> Iterator[dict[str, BrokerUser]]:
    """Throwaway broker users with a tenant's permissions (write to `jobs` only), unique per
    run because broker users are global; `alpha` is mapped to tenant alpha, `stranger` to none.
    `forger` is mapped to tenant alpha too, but may also write to `job-events` (a grant widened
    by mistake): what the projector, not the broker, must then refuse."""
    ctl = Rabbitmqctl()
    vhost = unquote(urlparse(infra.amqp_url).path.lstrip("/")) or "/"
    run = uuid.uuid4().hex[:8]
    users: dict[str, BrokerUser] = {}
    try:
        for role in ("alpha", "stranger", "forger"):
            name, password = f"e2e-{run}-{role}", secrets.token_urlsafe(16)
            grant = tenant_grant(name, role)
            if role == "forger":
                grant = dataclasses.replace(grant, write=exactly([JOBS_EXCHANGE, EVENTS_EXCHANGE]))
            ctl.add_user(name, password)
            ctl.set_permissions(vhost, name, grant.configure, grant.write, grant.read)
            users[role] = BrokerUser(name, str(URL(infra.amqp_url).with_user(name).with_password(password)))
        yield users
    finally:
        for user in users.values():
            ctl.delete_user(user.name)


@pytest.fixture(scope="session")
def otlp_collector() -> Iterator[OtlpCollector]:
    """Where every service of the stack exports its spans."""
    collector = OtlpCollector().start()
    yield collector
    collector.stop()


@pytest.fixture(scope="session")
def service_env(
    infra: Infra,
    direct_publishers: dict[str, BrokerUser],
    otlp_collector: OtlpCollector,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds between span exports
        "LOG_FORMAT": "json",
        "AMQP_URL": infra.amqp_url,
        "REDIS_URL": infra.redis_url,
        "JOBS_API_KEYS": ",".join(f"{t}:{k}" for t, k in KEYS.items()),
        # the platform's numbers (/v1/queues) for alpha, and for the conformance run to reach them
        "API_ADMIN_TENANTS": "alpha,conformance",
        # the development broker's guest stays the platform's user (the default); one tenant user
        "JOBS_BROKER_TENANTS": ",".join(f"{direct_publishers[u].name}:alpha" for u in ("alpha", "forger")),
        "NER_CHUNK_CHARS": "2000",
        "API_KEEPALIVE_SECONDS": "1",
        # the API and the OCR worker share this directory, as services on one machine do
        "STORAGE_BACKEND": "local",
        "STORAGE_DIR": str(tmp_path_factory.mktemp("files")),
        "API_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        "OCR_MAX_PAGES": str(OCR_MAX_PAGES),
        "OCR_CONCURRENCY": "2",
    }


@pytest.fixture(scope="session")
async def chat_server() -> AsyncIterator[ScriptedChatServer]:
    """The LLM worker's provider: a Chat Completions server on 127.0.0.1, scripted per test."""
    server = await ScriptedChatServer().start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
async def stack(
    service_env: dict[str, str],
    log_dir: Path,
    amqp: aio_pika.abc.AbstractRobustConnection,
    redis: object,
    chat_server: ScriptedChatServer,
) -> AsyncIterator[Stack]:
    port = free_port()
    env = {
        **service_env,
        "API_PORT": str(port),
        "LLM_BASE_URL": chat_server.base_url,
        "LLM_MODEL": "e2e-model",
        # small pieces so that a short text already takes several calls
        "LLM_CONTEXT_TOKENS": "2048",
        "LLM_CHUNK_TOKENS": "200",
        "LLM_MAX_OUTPUT_TOKENS": "64",
        "LLM_BACKOFF_BASE": "0.05",
        "RAG_LLM_BASE_URL": chat_server.base_url,
        "RAG_LLM_MODEL": "e2e-rag-model",
        "RAG_PROGRESS_INTERVAL": "0",
        "RAG_CHUNK_WORDS": "60",
        "RAG_CHUNK_OVERLAP": "10",
    }
    names = ("projector", "ner", "ocr", "llm", "rag", "pipeline", "api")
    metrics = {}
    for name in names:
        metrics_port = free_port()
        env[f"{name.upper()}_METRICS_PORT"] = str(metrics_port)
        metrics[name] = f"http://127.0.0.1:{metrics_port}/metrics"
    launcher = Launcher(env, log_dir)
    services = launcher.start_services(names)
    amqp_user = urlparse(service_env["AMQP_URL"]).username or "guest"
    stack = Stack(f"http://127.0.0.1:{port}", services, amqp, amqp_user, metrics)
    with launcher:
        await asyncio.to_thread(wait_ready, stack.base_url, services["api"])
        await stack.wait_consuming(NER_QUEUE.name)
        await stack.wait_consuming(LLM_QUEUE.name)
        await stack.wait_consuming(OCR_QUEUE.name)
        await stack.wait_consuming(RAG_QUEUE.name)
        await stack.wait_consuming(PIPELINE_QUEUE.name)
        await stack.wait_reading_history()
        yield stack


@pytest.fixture
async def alpha(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client("alpha") as client:
        yield client


@pytest.fixture
async def beta(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client("beta") as client:
        yield client
