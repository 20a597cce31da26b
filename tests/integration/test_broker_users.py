"""Least privilege on the real broker: the users `make broker-users` creates can do their
job and nothing else. Run in the test vhost only, with uniquely named throwaway users
(broker users are global), deleted afterwards."""

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote, urlparse

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused
from yarl import URL

from shared.messaging import Publisher, declare_topology
from shared.schemas import JobCommand
from shared.schemas.topology import EVENTS_EXCHANGE, JOBS_EXCHANGE, NER_QUEUE, PROJECTOR_QUEUE, QUEUES
from tests.support.infra import Infra
from tools.asyncapi.subscribers import discover_subscriptions
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
        for g in grants(QUEUES, discover_subscriptions(), {"acme-publisher": "acme"})
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

        for queue in (NER_QUEUE.name, PROJECTOR_QUEUE.name, NER_QUEUE.dead_letter_queue):
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
        other = await channel.declare_queue(PROJECTOR_QUEUE.name, passive=True)
        with pytest.raises(ChannelAccessRefused):
            await other.get(fail=False)
        channel = await publisher.connection.channel()
        jobs = await channel.get_exchange(JOBS_EXCHANGE, ensure=False)
        with pytest.raises(ChannelAccessRefused):
            await jobs.publish(aio_pika.Message(_command("acme")), routing_key="ner.entities")
    finally:
        await publisher.close()


def test_applying_again_changes_nothing_but_permissions(users: Users, infra: Infra) -> None:
    assert apply_grants(Rabbitmqctl(), _vhost(infra.amqp_url), users.grants) == {}
