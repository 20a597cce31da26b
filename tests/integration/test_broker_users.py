"""Least privilege on the real broker: the users `make broker-users` creates can do their
job and nothing else. Run in the test vhost only, with uniquely named throwaway users
(broker users are global), deleted afterwards."""

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote, urlparse

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage as IncomingMessage
from aiormq.exceptions import ChannelAccessRefused
from yarl import URL

from services.api.search_client import SearchClient
from shared.identity import FORWARDED_FOR_HEADER, PublisherIdentities
from shared.messaging import Publisher, declare_topology
from shared.schemas import JobCommand, JobTimeline
from shared.schemas.rag import SearchCall, SearchReply, Source
from shared.schemas.topology import (
    DEAD_LETTER_WATCH_QUEUE,
    EVENTS_EXCHANGE,
    HISTORY_STREAM,
    JOBS_EXCHANGE,
    NER_QUEUE,
    RAG_SEARCH_QUEUE,
    RAG_SEARCH_TTL_MS,
)
from tests.support.infra import Infra
from tools.asyncapi.subscribers import discover_subscriptions
from tools.asyncapi.topology import declared_topology
from tools.broker.permissions import Grant, grants
from tools.broker.rabbitmqctl import Rabbitmqctl
from tools.broker.users import apply_grants

pytestmark = pytest.mark.integration


@dataclasses.dataclass
class Users:
    url: dict[str, str]
    """Role (`tenant`, `ner`, ...) -> AMQP URL logging in as that role's test user."""
    grants: list[Grant]


def _vhost(amqp_url: str) -> str:
    return unquote(urlparse(amqp_url).path.lstrip("/")) or "/"


@pytest.fixture(scope="module")
def users(infra: Infra) -> Iterator[Users]:
    ctl = Rabbitmqctl()
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    wanted = [
        dataclasses.replace(g, user=prefix + g.user)
        for g in grants(declared_topology(), discover_subscriptions(), {"acme-publisher": "acme"})
    ]
    try:
        passwords = apply_grants(ctl, _vhost(infra.amqp_url), wanted)
        assert set(passwords) == {g.user for g in wanted}, "every new user gets a password"
        base = URL(infra.amqp_url)
        urls = {
            g.role.split()[-1] if g.role.startswith("service") else "tenant": str(
                base.with_user(g.user).with_password(passwords[g.user])
            )
            for g in wanted
        }
        yield Users(urls, wanted)
    finally:
        for g in wanted:
            if g.user in ctl.users():
                ctl.delete_user(g.user)


@pytest.fixture
async def topology(amqp: aio_pika.abc.AbstractRobustConnection) -> None:
    channel = await amqp.channel()
    await declare_topology(channel)
    await channel.close()


def _command(tenant: str) -> bytes:
    return (
        JobCommand(
            job_id=str(uuid.uuid4()),
            tenant=tenant,
            operation="ner.entities",
            input={"text": "x"},
            created_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )


async def test_a_tenant_user_can_only_publish_jobs(users: Users, topology: None) -> None:
    connection = await aio_pika.connect(users.url["tenant"])
    try:
        user = URL(users.url["tenant"]).user
        channel = await connection.channel()
        jobs = await channel.get_exchange(JOBS_EXCHANGE, ensure=False)
        body = _command("acme")
        await jobs.publish(aio_pika.Message(body, user_id=user), routing_key="ner.entities", mandatory=True)

        for queue in (NER_QUEUE.name, DEAD_LETTER_WATCH_QUEUE.name, NER_QUEUE.dead_letter_queue):
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)  # passive: no permission needed
            with pytest.raises(ChannelAccessRefused):
                await declared.get(fail=False)
        channel = await connection.channel()
        with pytest.raises(ChannelAccessRefused):
            await channel.declare_queue(f"test-{uuid.uuid4()}", exclusive=True)
        channel = await connection.channel()
        events = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await events.publish(aio_pika.Message(b"{}", user_id=user), routing_key="ner.entities.failed")
    finally:
        await connection.close()


async def test_a_worker_user_declares_the_topology_consumes_its_queue_but_cannot_submit_jobs(
    users: Users, topology: None
) -> None:
    publisher = await Publisher.connect(users.url["ner"], name="test-ner-user")  # declares everything
    try:
        assert publisher.user_id == URL(users.url["ner"]).user
        channel = await publisher.connection.channel()
        own = await channel.declare_queue(NER_QUEUE.name, passive=True)
        await own.get(fail=False)  # reading its own queue is allowed
        other = await channel.declare_queue(DEAD_LETTER_WATCH_QUEUE.name, passive=True)
        with pytest.raises(ChannelAccessRefused):
            await other.get(fail=False)
        channel = await publisher.connection.channel()
        jobs = await channel.get_exchange(JOBS_EXCHANGE, ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await jobs.publish(aio_pika.Message(_command("acme")), routing_key="ner.entities")
    finally:
        await publisher.close()


async def test_the_projector_user_reads_its_queues_and_may_fail_a_dead_lettered_job(
    users: Users, topology: None
) -> None:
    publisher = await Publisher.connect(users.url["projector"], name="test-projector-user")
    try:
        channel = await publisher.connection.channel()
        await (await channel.declare_queue(DEAD_LETTER_WATCH_QUEUE.name, passive=True)).get(fail=False)
        await channel.set_qos(prefetch_count=10)  # a stream consumer needs a prefetch
        history = await channel.declare_queue(HISTORY_STREAM.name, passive=True)
        tag = await history.consume(lambda m: m.ack(), arguments={"x-stream-offset": "last"})
        await history.cancel(tag)
        channel = await publisher.connection.channel()
        events = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        marker = str(uuid.uuid4())
        await events.publish(
            aio_pika.Message(b"{}", user_id=publisher.user_id, message_id=marker),
            routing_key="ner.entities.failed",
            mandatory=True,
        )
        channel = await publisher.connection.channel()
        jobs = await channel.get_exchange(JOBS_EXCHANGE, ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await jobs.publish(aio_pika.Message(_command("acme")), routing_key="ner.entities")
    finally:
        await publisher.close()


async def test_the_api_user_publishes_its_job_events(
    users: Users, topology: None, amqp: aio_pika.abc.AbstractRobustConnection
) -> None:
    command = JobCommand.model_validate_json(_command("acme"))
    queued = JobTimeline.new(command).queued()
    publisher = await Publisher.connect(users.url["api"], name="test-api-user")
    try:
        await publisher.publish_event(queued)  # confirmed, or it raises
    finally:
        await publisher.close()
    channel = await amqp.channel()
    await channel.set_qos(prefetch_count=500)
    found: asyncio.Future[IncomingMessage] = asyncio.get_running_loop().create_future()

    async def take(message: IncomingMessage) -> None:
        await message.ack()
        if message.message_id == f"{command.job_id}:{queued.seq}" and not found.done():
            found.set_result(message)

    history = await channel.declare_queue(HISTORY_STREAM.name, passive=True)
    await history.consume(take, arguments={"x-stream-offset": "first"})
    taken = await asyncio.wait_for(found, 10)  # in the job history
    assert taken.user_id == URL(users.url["api"]).user
    await channel.close()


async def test_the_api_user_calls_rag_search_and_the_rag_user_answers(users: Users) -> None:
    """The RPC over the default exchange and direct reply-to, each side with its own grants:
    the rag user declares and reads `rag.search` and replies; the API user calls and hears."""
    rag = await aio_pika.connect(users.url["rag"])
    api = await SearchClient.connect(users.url["api"], wait=10)
    try:
        channel = await rag.channel()
        queue = await channel.declare_queue(  # as services/propan_wiring.py serve_rpc declares it
            RAG_SEARCH_QUEUE, durable=False, arguments={"x-message-ttl": RAG_SEARCH_TTL_MS}
        )

        async def answer(message: IncomingMessage) -> None:
            call = SearchCall.model_validate_json(message.body)
            reply = SearchReply(results=[Source(file_id="f" * 32, page=1, text=call.query, score=1.0)])
            await channel.default_exchange.publish(
                aio_pika.Message(reply.model_dump_json().encode(), correlation_id=message.correlation_id),
                routing_key=message.reply_to or "",
            )
            await message.ack()

        await queue.consume(answer)
        found = await api.search(SearchCall(tenant="acme", collection="c", query="who?", top_k=1))
        assert [r.text for r in found.results] == ["who?"]
    finally:
        await api.close()
        await rag.close()
    tenant = await aio_pika.connect(users.url["tenant"])
    try:  # a direct publisher may not call it
        refused = await tenant.channel()
        with pytest.raises(ChannelAccessRefused):
            await refused.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=RAG_SEARCH_QUEUE)
    finally:
        await tenant.close()


def test_applying_again_changes_nothing_but_permissions(users: Users, infra: Infra) -> None:
    assert apply_grants(Rabbitmqctl(), _vhost(infra.amqp_url), users.grants) == {}


async def _take(channel: aio_pika.abc.AbstractChannel, queue: str, message_id: str) -> IncomingMessage:
    source = await channel.declare_queue(queue, passive=True)
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        message = await source.get(fail=False)
        if message is None:
            await asyncio.sleep(0.05)
        elif message.message_id == message_id:
            return message
        else:
            await message.nack(requeue=True)
    raise AssertionError(f"message {message_id} never reached {queue}")


async def test_a_message_handed_back_keeps_its_publishers_identity(
    users: Users, topology: None, infra: Infra
) -> None:
    """A worker hands a delivery back (on shutdown) before checking it: it returns with the
    worker's user_id, and must still be judged as its original publisher's."""
    tenant_user = str(URL(users.url["tenant"]).user)
    job_id = str(uuid.uuid4())
    connection = await aio_pika.connect(users.url["tenant"])
    async with connection:
        channel = await connection.channel()
        jobs = await channel.get_exchange(JOBS_EXCHANGE, ensure=False)
        body = _command("globex")  # not the tenant this user maps to
        await jobs.publish(
            aio_pika.Message(body, user_id=tenant_user, message_id=job_id), routing_key="ner.entities"
        )
    worker = await Publisher.connect(infra.amqp_url, name="test-hand-back")  # guest: a platform user
    try:
        channel = await worker.connection.channel()
        first = await _take(channel, NER_QUEUE.name, job_id)
        await worker.hand_back(first)
        await first.ack()
        again = await _take(channel, NER_QUEUE.name, job_id)  # via jobs.delay, back through `jobs`
        await again.ack()
    finally:
        await worker.close()
    assert again.user_id == worker.user_id
    assert again.headers[FORWARDED_FOR_HEADER] == tenant_user
    identities = PublisherIdentities([worker.user_id], {tenant_user: "acme"})
    refused = identities.refusal(again.user_id, json.loads(again.body), again.headers)
    assert refused is not None
    assert refused.code == "tenant_mismatch"


def test_a_password_that_starts_with_a_dash_is_a_password_not_an_option() -> None:
    # token_urlsafe() starts with "-" one time in 64; rabbitmqctl used to read it as an option.
    ctl = Rabbitmqctl()
    user = f"test-{uuid.uuid4().hex[:8]}-dash"
    try:
        ctl.add_user(user, "-first")
        ctl.run("authenticate_user", user, "--", "-first")
        ctl.change_password(user, "-second")
        ctl.run("authenticate_user", user, "--", "-second")
        with pytest.raises(RuntimeError, match="authenticate_user"):
            ctl.run("authenticate_user", user, "--", "-first")
    finally:
        ctl.delete_user(user)
