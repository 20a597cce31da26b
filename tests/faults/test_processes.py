"""The invariants under real faults: the services as processes, the broker restarted,
Redis frozen, workers killed or stopped, a flood of malformed messages."""

import asyncio
import json
import signal
import time
import uuid
from datetime import datetime

import aio_pika
import httpx
import pytest

from shared.schemas.topology import JOBS_EXCHANGE, NER_QUEUE, PROJECTOR_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import final_status, follow, submit
from tests.support.servers import ThrowawayRabbit, ThrowawayRedis

pytestmark = pytest.mark.faults

SENTENCE = "Angela Merkel met executives of Siemens in Berlin. Ada Lovelace wrote to Charles Babbage.\n"


async def wait_all_terminal(client: httpx.AsyncClient, ids: list[str], within: float = 90) -> dict[str, dict]:  # type: ignore[type-arg]
    views: dict[str, dict] = {}  # type: ignore[type-arg]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for job_id in ids:
            if job_id in views:
                continue
            response = await client.get(f"/v1/jobs/{job_id}")
            if response.status_code == 200 and response.json()["status"] in (
                "succeeded",
                "failed",
                "cancelled",
            ):
                views[job_id] = response.json()
        if len(views) == len(ids):
            return views
        await asyncio.sleep(0.2)
    missing = [j for j in ids if j not in views]
    raise AssertionError(f"{len(missing)} jobs never ended, e.g. {missing[:3]}")


async def history(client: httpx.AsyncClient, job_id: str) -> list[str]:
    return [kind for kind, _, _ in await follow(client, job_id, last_event_id=0)]


async def test_sigkill_with_jobs_in_flight_every_job_succeeds_once(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    jobs = [await submit(alpha, SENTENCE * 60) for _ in range(30)]  # ~5,400 chars, 3 chunks each
    await asyncio.sleep(0.5)
    fault_stack.services["ner"].kill()
    fault_stack.services["ner"].start()
    views = await wait_all_terminal(alpha, [j["id"] for j in jobs])
    assert {v["status"] for v in views.values()} == {"succeeded"}
    assert {v["attempts"] for v in views.values()} == {1}
    for job in jobs[:5]:
        assert (await history(alpha, job["id"])).count("succeeded") == 1
    await fault_stack.wait_consuming(NER_QUEUE.name)


async def test_broker_restart_loses_no_accepted_job(
    fault_stack: Stack, alpha: httpx.AsyncClient, rabbit: ThrowawayRabbit
) -> None:
    accepted: list[str] = []
    statuses: list[int] = []
    stop = asyncio.Event()

    async def keep_submitting() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            body = {"operation": "ner.entities", "input": {"text": f"Marie Curie visited Oslo, day {i}."}}
            try:
                response = await alpha.post("/v1/jobs", json=body, timeout=10)
            except httpx.HTTPError:
                statuses.append(-1)
            else:
                statuses.append(response.status_code)
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
            await asyncio.sleep(0.05)

    submitter = asyncio.create_task(keep_submitting())
    await asyncio.sleep(2)
    await asyncio.to_thread(rabbit.stop_app)
    await asyncio.sleep(3)
    await asyncio.to_thread(rabbit.start_app)
    await asyncio.sleep(8)  # clients reconnect (aio-pika retries every 5 s)
    stop.set()
    await submitter
    assert set(statuses) <= {202, 503}, f"unexpected answers: {set(statuses)}"
    assert statuses.count(503) > 0, "the outage was not noticed"
    assert statuses[-1] == 202, "the API did not recover"
    views = await wait_all_terminal(alpha, accepted, within=120)
    assert {v["status"] for v in views.values()} == {"succeeded"}
    for service in fault_stack.services.values():
        assert service.alive(), service.log_tail()


async def test_frozen_redis_answers_503_and_state_converges(
    fault_stack: Stack, alpha: httpx.AsyncClient, fault_redis: ThrowawayRedis, rabbit: ThrowawayRabbit
) -> None:
    before = [await submit(alpha, SENTENCE * 30) for _ in range(10)]
    fault_redis.freeze()
    try:
        during = await alpha.post("/v1/jobs", json={"operation": "ner.entities", "input": {"text": "Lima"}})
        assert during.status_code == 202  # the broker has it; its record catches up later
        read = await alpha.get(f"/v1/jobs/{before[0]['id']}")
        assert read.status_code == 503
        assert "unavailable" in read.json()["detail"]
        assert (await alpha.get("/readyz")).status_code == 503
        await asyncio.sleep(1.5)
        queues = await asyncio.to_thread(rabbit.ctl, "list_queues", "name", "messages", "--quiet")
        held = dict(line.split() for line in queues.strip().splitlines())
        assert int(held[PROJECTOR_QUEUE.name]) > 0, "the projector acked events it could not apply"
    finally:
        fault_redis.thaw()
    views = await wait_all_terminal(alpha, [j["id"] for j in before] + [during.json()["id"]])
    assert {v["status"] for v in views.values()} == {"succeeded"}
    assert fault_stack.services["projector"].alive()


async def test_a_thousand_malformed_messages_cost_nothing_else(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    marker = uuid.uuid4().hex[:8]
    bodies = [
        b"\x00\x01 not json",
        b"[]",
        json.dumps({"job_id": "x"}).encode(),
        json.dumps({"operation": "ner.entities", "input": {"text": 1}}).encode(),
    ]
    channel = await fault_stack.amqp.channel()
    jobs_exchange = await channel.get_exchange(JOBS_EXCHANGE, ensure=False)

    async def flood() -> None:
        for i in range(1000):
            await jobs_exchange.publish(
                aio_pika.Message(
                    bodies[i % len(bodies)],
                    message_id=f"{marker}-{i}",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    user_id=fault_stack.amqp_user,  # a platform user: the bodies are what is wrong
                ),
                routing_key="ner.entities",
            )

    async def good_jobs() -> list[str]:
        ids = []
        for i in range(20):
            ids.append((await submit(alpha, f"Grace Hopper visited Toronto on day {i}."))["id"])
            await asyncio.sleep(0.02)
        return ids

    _, good = await asyncio.gather(flood(), good_jobs())
    views = await wait_all_terminal(alpha, good)
    assert {v["status"] for v in views.values()} == {"succeeded"}

    dlq = await channel.declare_queue(NER_QUEUE.dead_letter_queue, passive=True)
    codes: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(codes) < 1000 and time.monotonic() < deadline:
        message = await dlq.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.1)
        elif (message.message_id or "").startswith(marker):
            codes[message.message_id or ""] = str(message.headers.get("x-error-code"))
    assert len(codes) == 1000
    assert set(codes.values()) == {"malformed_json", "invalid_envelope"}
    await channel.close()
    for service in fault_stack.services.values():
        assert service.alive()


async def test_a_job_longer_than_the_consumer_timeout_completes(
    fault_stack: Stack, alpha: httpx.AsyncClient, rabbit: ThrowawayRabbit
) -> None:
    assert "5000" in await asyncio.to_thread(
        rabbit.ctl, "eval", "application:get_env(rabbit, consumer_timeout)."
    )
    job = await submit(alpha, SENTENCE * 6000)  # ~540,000 chars
    events = await follow(alpha, job["id"])
    assert final_status(events) == "succeeded"
    view = (await alpha.get(f"/v1/jobs/{job['id']}")).json()
    took = datetime.fromisoformat(view["finished_at"]) - datetime.fromisoformat(view["started_at"])
    assert took.total_seconds() > 7, "the job was too short to prove anything"
    assert view["attempts"] == 1
    assert (await history(alpha, job["id"])).count("started") == 1, "the delivery was taken away and rerun"
    assert "lease held" in fault_stack.services["ner"].log_tail(200)


async def test_sigterm_finishes_short_jobs_and_hands_back_long_ones(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    ner = fault_stack.services["ner"]
    long_job = await submit(alpha, SENTENCE * 3000)
    for _ in range(200):
        if (await alpha.get(f"/v1/jobs/{long_job['id']}")).json()["status"] == "running":
            break
        await asyncio.sleep(0.05)
    short_job = await submit(alpha, "Alan Turing was born in London.")
    await asyncio.sleep(0.3)
    asked = time.monotonic()
    ner.signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(ner.stop, 20)
    assert exit_code == 0
    assert time.monotonic() - asked < 8  # grace (2 s) plus hand-back, not the whole job
    assert (await alpha.get(f"/v1/jobs/{short_job['id']}")).json()["status"] == "succeeded"
    assert (await alpha.get(f"/v1/jobs/{long_job['id']}")).json()["status"] == "running"
    ner.start()
    views = await wait_all_terminal(alpha, [long_job["id"]])
    assert views[long_job["id"]]["status"] == "succeeded"
    assert (await history(alpha, long_job["id"])).count("succeeded") == 1
    await fault_stack.wait_consuming(NER_QUEUE.name)


async def test_a_cancelled_queued_job_never_starts(fault_stack: Stack, alpha: httpx.AsyncClient) -> None:
    ner = fault_stack.services["ner"]
    ner.stop()
    try:
        job = await submit(alpha, "Toyota opened an office in Madrid.")
        cancel = await alpha.post(f"/v1/jobs/{job['id']}/cancel")
        assert cancel.status_code == 202
        assert cancel.json()["status"] == "cancelled"
    finally:
        ner.start()
    await fault_stack.wait_consuming(NER_QUEUE.name)
    after = await submit(alpha, "Nestle is based in Switzerland.")
    assert final_status(await follow(alpha, after["id"])) == "succeeded"
    assert "started" not in await history(alpha, job["id"])
    assert (await alpha.post(f"/v1/jobs/{job['id']}/cancel")).status_code == 409


async def test_a_job_the_broker_dead_letters_on_its_own_ends_failed(
    fault_stack: Stack, alpha: httpx.AsyncClient
) -> None:
    # A consumer that rejects without requeueing (a crashed handler in Propan, an operator's
    # tool): the broker dead-letters the command, and nothing of ours published an outcome.
    ner = fault_stack.services["ner"]
    ner.stop()
    try:
        job = await submit(alpha, "Airbus builds aircraft in Toulouse.")
        channel = await fault_stack.amqp.channel()
        queue = await channel.get_queue(NER_QUEUE.name, ensure=False)
        message = None
        for _ in range(100):
            message = await queue.get(fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.05)
        assert message is not None
        assert json.loads(message.body)["job_id"] == job["id"]
        await message.reject(requeue=False)
        await channel.close()
        views = await wait_all_terminal(alpha, [job["id"]], within=30)
    finally:
        ner.start()
    error = views[job["id"]]["error"]
    assert views[job["id"]]["status"] == "failed"
    assert error["code"] == "dead_lettered"
    assert "rejected" in error["message"]
    assert NER_QUEUE.name in error["message"]
    dlq = await (await fault_stack.amqp.channel()).get_queue(NER_QUEUE.dead_letter_queue, ensure=False)
    kept = await dlq.get(fail=False)
    assert kept is not None, "operators keep a copy"
    assert json.loads(kept.body)["job_id"] == job["id"]
    await kept.ack()
    await fault_stack.wait_consuming(NER_QUEUE.name)
