"""Fault injection against a throwaway RabbitMQ node and Redis server of our own, so
that stopping, restarting or freezing them disturbs nothing else on the machine.

The node runs with `consumer_timeout = 5 s` (checked every second) so that the test of
jobs longer than the consumer timeout runs in seconds, not half an hour.
"""

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import KEYS, Stack
from tests.faults.helpers import ner_stack
from tests.support.servers import ThrowawayRabbit, ThrowawayRedis

pytestmark = pytest.mark.faults


@pytest.fixture(scope="session")
def rabbit() -> Iterator[ThrowawayRabbit]:
    server = ThrowawayRabbit(Path(tempfile.mkdtemp(prefix="jobs-fault-rmq-")), consumer_timeout_ms=5000)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fault_redis() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis().start()
    try:
        yield server
    finally:
        server.stop()


FAULT_SETTINGS = {
    "JOBS_API_KEYS": ",".join(f"{t}:{k}" for t, k in KEYS.items()),
    "NER_CHUNK_CHARS": "2000",
    "NER_MAX_TEXT_CHARS": "5000000",
    "NER_LEASE_AFTER": "1.5",
    "NER_LEASE_TTL": "3",
    "NER_SHUTDOWN_GRACE": "2",
    "REDIS_TIMEOUT": "1",
    "API_PUBLISH_TIMEOUT": "2",
    "API_KEEPALIVE_SECONDS": "1",
    # no /metrics listeners: the default ports may be taken on a shared machine
    "NER_METRICS_PORT": "0",
    "LLM_METRICS_PORT": "0",
    "PROJECTOR_METRICS_PORT": "0",
    "OCR_METRICS_PORT": "0",
}
"""The services' settings in every fault test (AMQP_URL and REDIS_URL aside)."""


@pytest.fixture(scope="session")
def fault_env(rabbit: ThrowawayRabbit, fault_redis: ThrowawayRedis) -> dict[str, str]:
    return {"AMQP_URL": rabbit.url, "REDIS_URL": fault_redis.url, **FAULT_SETTINGS}


@pytest.fixture(scope="session")
async def fault_stack(
    fault_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with ner_stack(fault_env, tmp_path_factory.mktemp("fault-service-logs")) as stack:
        yield stack


@pytest.fixture
async def alpha(fault_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with fault_stack.client("alpha") as client:
        yield client
