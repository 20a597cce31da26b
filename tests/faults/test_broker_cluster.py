"""A broker node killed: the stack runs against a three-node cluster of throwaway nodes; the
node the API and the workers are connected to is SIGKILLed while jobs run and submissions
continue. Every accepted job succeeds exactly once, submissions get only 202 or 503, and
new submissions succeed again within 15 s."""

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.faults.conftest import FAULT_SETTINGS
from tests.faults.helpers import SENTENCE, history, ner_stack, wait_all_terminal
from tests.support.servers import ThrowawayCluster, ThrowawayRabbit, ThrowawayRedis

pytestmark = pytest.mark.faults

JOBS = 300
RECOVERY_LIMIT = 15.0
"""Seconds from the node's death to the first accepted submission (the issue's bound)."""
STACK_CONNECTIONS = {"api", "ner", "ner-consumer", "projector", "projector-consumer"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    nodes = ThrowawayCluster(Path(tempfile.mkdtemp(prefix="jobs-fault-cluster-")))
    try:
        yield nodes.start()
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
async def cluster_stack(
    cluster: ThrowawayCluster, fault_redis: ThrowawayRedis, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    env = {
        **FAULT_SETTINGS,
        "AMQP_URL": cluster.url,
        "REDIS_URL": fault_redis.url.replace("/0", "/1"),
        "API_TENANT_SUBMIT_RATE": "1000",
        "API_TENANT_SUBMIT_BURST": "1000",
        # three nodes replicating every message on a shared machine: confirms take longer
        "API_PUBLISH_TIMEOUT": "10",
        # not the fault tier's seconds-long leases (for its long-job test): under this load
        # every job would outlive them and be taken over by watchdogs again and again
        "NER_LEASE_AFTER": "600",
        "NER_LEASE_TTL": "60",
        "REDIS_TIMEOUT": "5",
    }
    async with ner_stack(env, tmp_path_factory.mktemp("cluster-service-logs"), within=120) as stack:
        yield stack


def connections_by_node(cluster: ThrowawayCluster) -> dict[str, set[int]]:
    """Connection name -> the AMQP ports of the nodes it is connected to, as the cluster says."""
    listed = cluster.running().ctl("list_connections", "port", "client_properties", "--formatter", "json")
    found: dict[str, set[int]] = {}
    for connection in json.loads(listed):
        for key, _type, value in connection["client_properties"]:
            if key == "connection_name":
                found.setdefault(value, set()).add(int(connection["port"]))
    return found


@dataclass
class Submissions:
    """Every submission's start, end and answer (-1: no HTTP answer)."""

    answers: list[tuple[float, float, int]]
    accepted: list[str]

    async def submit(self, client: httpx.AsyncClient, text: str) -> None:
        started = time.monotonic()
        body = {"operation": "ner.entities", "input": {"text": text}}
        try:
            response = await client.post("/v1/jobs", json=body, timeout=30)
            status = response.status_code
        except httpx.HTTPError:
            status = -1
        self.answers.append((started, time.monotonic(), status))
        if status == 202:
            self.accepted.append(response.json()["id"])


@pytest.mark.timeout(900)  # the cluster's start (parallel, ~25 s) and the services' on a shared machine
async def test_broker_node_killed_loses_no_accepted_job(
    cluster_stack: Stack, cluster: ThrowawayCluster
) -> None:
    connected = await asyncio.to_thread(connections_by_node, cluster)
    missing = STACK_CONNECTIONS - connected.keys()
    assert not missing, f"no connection named {missing}: {connected}"
    ports = set().union(*(connected[name] for name in STACK_CONNECTIONS))
    assert len(ports) == 1, f"the stack is spread over several nodes: {connected}"
    target: ThrowawayRabbit = cluster.node_on_port(ports.pop())
    began = time.monotonic()

    log = Submissions([], [])
    async with cluster_stack.client("alpha") as client:
        text = SENTENCE * 3
        for start in range(0, JOBS, 10):  # 300 jobs, 10 at a time
            await asyncio.gather(*(log.submit(client, f"{text} job {i}") for i in range(start, start + 10)))
        assert {status for _, _, status in log.answers} == {202}, "submissions failed before the kill"

        print(f"\n{JOBS} jobs accepted in {time.monotonic() - began:.1f}s")
        stop = asyncio.Event()

        async def keep_submitting(lane: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                await log.submit(client, f"Marie Curie visited Oslo, lane {lane} day {i}.")
                await asyncio.sleep(0.05)

        submitters = [asyncio.create_task(keep_submitting(lane)) for lane in range(4)]
        await asyncio.sleep(1)
        killed_at = time.monotonic()
        await asyncio.to_thread(target.kill)
        await asyncio.sleep(RECOVERY_LIMIT + 5)
        stop.set()
        await asyncio.gather(*submitters)

        statuses = {status for _, _, status in log.answers}
        assert statuses <= {202, 503}, f"unexpected answers: {statuses}"
        recovered = [end for start, end, status in log.answers if start >= killed_at and status == 202]
        assert recovered, "no submission succeeded after the kill"
        failover = min(recovered) - killed_at
        failed = sum(1 for start, _, status in log.answers if start >= killed_at - 2 and status == 503)
        print(f"\nfail-over: first accepted submission {failover:.2f}s after the kill; {failed} answered 503")
        assert failover <= RECOVERY_LIMIT

        views = await wait_all_terminal(client, log.accepted, within=400)
        assert {v["status"] for v in views.values()} == {"succeeded"}
        for job_id in log.accepted:
            kinds = await history(client, job_id)
            assert kinds.count("succeeded") == 1, f"{job_id}: {kinds}"
    moved = await asyncio.to_thread(connections_by_node, cluster)
    assert target.port not in set().union(*moved.values()), moved
    for service in cluster_stack.services.values():
        assert service.alive(), service.log_tail()
