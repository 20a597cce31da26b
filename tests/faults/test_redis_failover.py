"""Redis fail-over under load: the stack runs against a throwaway primary, replica and three
sentinels (tests/support/sentinels.py), the primary is SIGKILLed while jobs run and
submissions continue; the services follow the promoted replica, no accepted job is lost,
and a stream open across the fail-over ends with the terminal event."""

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import follow, submit
from tests.faults.helpers import SENTENCE, ner_stack, wait_all_terminal
from tests.support.infra import Infra, ensure_vhost
from tests.support.sentinels import MASTER, SentinelGroup, running_group

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    with running_group() as group:
        yield group


@pytest.fixture
def failover_vhost(infra: Infra) -> Iterator[str]:
    """A vhost of its own on the test broker, so no other stack takes these jobs. Not the tier's
    own node: its 5 s consumer timeout is shorter than a worker may go without Redis during a
    fail-over before its lease lets it ack (production: 30 minutes against 3 to 10 seconds)."""
    if not infra.local:
        pytest.fail("the Redis fail-over test needs the test broker on this machine (rabbitmqctl)")
    parts = urlsplit(infra.amqp_url)
    url = urlunsplit(parts._replace(path=f"/{parts.path.strip('/') or 'jobs'}-redis-failover"))
    ensure_vhost(url)
    try:
        yield url
    finally:
        vhost = urlsplit(url).path.lstrip("/")
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=60, check=False)


@pytest.fixture
async def sentinel_stack(
    failover_vhost: str,
    sentinel_group: SentinelGroup,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """The projector, the NER worker and the API, pointed at the sentinels."""
    env = {
        "AMQP_URL": failover_vhost,
        "REDIS_URL": "redis://:data-secret@named-by-the-sentinels/0",
        "REDIS_SENTINELS": sentinel_group.sentinels,
        "REDIS_SENTINEL_MASTER": MASTER,
        "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
        "JOBS_API_KEYS": ",".join(f"{t}:{k}" for t, k in KEYS.items()),
        "NER_CHUNK_CHARS": "2000",
        # jobs past 1.5 s ack their delivery and hold a lease in Redis, renewed across the
        # fail-over; one that outlives it (the default is 60 s), so no job is rerun for it
        "NER_LEASE_AFTER": "1.5",
        "NER_LEASE_TTL": "15",
        "API_PUBLISH_TIMEOUT": "2",
        "API_KEEPALIVE_SECONDS": "1",
        "NER_METRICS_PORT": "0",
        "PROJECTOR_METRICS_PORT": "0",
    }
    async with ner_stack(env, tmp_path_factory.mktemp("redis-failover-logs")) as stack:
        yield stack


@dataclass
class KeyedSubmissions:
    """Submissions with an Idempotency-Key, made every 50 ms: the API writes the key to Redis
    before it publishes the job, so each `202` is a write through the platform. Times are
    seconds after `zero` (the kill), when sent and when answered."""

    client: httpx.AsyncClient
    zero: float = field(default_factory=lambda: time.monotonic() + 3600)
    answers: list[tuple[float, float, int]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            body = {"operation": "ner.entities", "input": {"text": f"Ada Lovelace met Babbage, take {i}."}}
            sent = time.monotonic() - self.zero
            try:
                response = await self.client.post(
                    "/v1/jobs", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}, timeout=10
                )
                status = response.status_code
            except httpx.HTTPError:
                status = -1
            self.answers.append((sent, time.monotonic() - self.zero, status))
            if status == 202:
                self.accepted.append(response.json()["id"])
            await asyncio.sleep(0.05)

    def first_write(self) -> float | None:
        """When the first `202` to a submission sent after the kill came back."""
        return min(
            (answered for sent, answered, status in self.answers if sent > 0 and status == 202), default=None
        )


async def test_the_platform_follows_the_promoted_replica_and_loses_no_job(
    sentinel_stack: Stack, sentinel_group: SentinelGroup
) -> None:
    async with sentinel_stack.client("alpha") as alpha:
        accepted = [(await submit(alpha, SENTENCE * 10))["id"] for _ in range(40)]
        streamed = (await submit(alpha, SENTENCE * 100))["id"]  # queued behind the others
        accepted.append(streamed)
        stream = asyncio.create_task(follow(alpha, streamed))
        await wait_some_succeeded(alpha, accepted, at_least=5)

        keyed = KeyedSubmissions(alpha)
        submitter = asyncio.create_task(keyed.run())
        await asyncio.sleep(0.5)
        assert not stream.done(), "the streamed job ended before the fail-over: give it more work"
        old = sentinel_group.master_port()
        sentinel_group.kill(old)  # SIGKILL, and its pid reaped: dead from here on
        keyed.zero = time.monotonic()
        new = await asyncio.to_thread(sentinel_group.wait_promoted, old)
        promoted = time.monotonic() - keyed.zero
        for _ in range(300):  # up to 30 s
            if keyed.first_write() is not None:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        keyed.stop.set()
        await submitter

        first_write = keyed.first_write()
        assert first_write is not None, f"no write through the platform within 30 s: {keyed.answers[-5:]}"
        statuses = {status for _, _, status in keyed.answers}
        assert statuses <= {202, 503}, f"unexpected answers during the fail-over: {statuses}"
        refused = sum(1 for sent, _, status in keyed.answers if sent > 0 and status == 503)
        print(
            f"\nfail-over: sentinels promoted {new} (was {old}) {promoted:.2f}s after SIGKILL; first write "
            f"through the platform (a keyed 202) answered {first_write:.2f}s after it; {refused} answered 503"
        )

        accepted += keyed.accepted
        views = await wait_all_terminal(alpha, accepted, within=150)
        wrong = {job_id: v["status"] for job_id, v in views.items() if v["status"] != "succeeded"}
        assert not wrong, f"{len(wrong)} jobs did not succeed: {list(wrong.items())[:5]}"
        unreadable = [job_id for job_id, v in views.items() if "entities" not in (v["result"] or {})]
        assert not unreadable, f"{len(unreadable)} succeeded jobs have no result, e.g. {unreadable[:3]}"

        events = await asyncio.wait_for(stream, 60)
        kinds = [kind for kind, _, _ in events]
        assert kinds[-1] == "succeeded", f"the stream ended with {kinds[-3:]}"
        numbers = [seq for _, seq, _ in events[1:]]
        assert numbers == sorted(set(numbers)), "the stream repeated or reordered events"
        history = [(kind, seq) for kind, seq, _ in await follow(alpha, streamed, last_event_id=events[0][1])]
        assert [(kind, seq) for kind, seq, _ in events[1:]] == history, "the stream missed events"
    for service in sentinel_stack.services.values():
        assert service.alive(), service.log_tail()


async def wait_some_succeeded(client: httpx.AsyncClient, ids: list[str], *, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = 0
        for job_id in ids[:20]:
            response = await client.get(f"/v1/jobs/{job_id}")
            done += response.status_code == 200 and response.json()["status"] == "succeeded"
        if done >= at_least:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the jobs never started succeeding")
