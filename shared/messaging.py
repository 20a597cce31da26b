"""AMQP plumbing shared by every service: topology declaration and confirmed publishing.

Plain aio-pika (no Propan) so the API, the workers and tests use the same code.
"""

import logging
from collections.abc import Mapping
from typing import Any, cast

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from shared.broker_cluster import connect_cluster, node_urls
from shared.confirmed_channel import ConfirmedChannel, PublishFailed
from shared.history import HistorySettings
from shared.identity import FORWARDED_FOR_HEADER
from shared.schemas import JobCommand, JobEvent
from shared.schemas.topology import (
    DEAD_LETTER_EXCHANGE,
    DELAY_EXCHANGE,
    DELAY_LEVELS,
    EVENTS_EXCHANGE,
    HISTORY_STREAM,
    JOBS_EXCHANGE,
    QUEUES,
    QueueSpec,
    delay_level_for,
    delay_queue,
    event_routing_key,
)
from shared.telemetry.metrics import DEAD_LETTERS
from shared.telemetry.recorder import record_job_event
from shared.telemetry.tracing import inject_context, publishing

__all__ = ["HistoryMismatch", "PublishFailed", "Publisher", "declare_topology", "stop_consuming"]

log = logging.getLogger(__name__)


class HistoryMismatch(RuntimeError):
    """The job history stream exists with other retention arguments than this service's settings."""


async def declare_topology(
    channel: AbstractChannel, history: HistorySettings | None = None
) -> dict[str, AbstractExchange]:
    """Declare every exchange, queue and binding (idempotent); return the exchanges by name.
    `history`: the history stream's retention (default: from the environment)."""
    exchanges = {
        JOBS_EXCHANGE: await channel.declare_exchange(JOBS_EXCHANGE, "topic", durable=True),
        EVENTS_EXCHANGE: await channel.declare_exchange(EVENTS_EXCHANGE, "topic", durable=True),
        DEAD_LETTER_EXCHANGE: await channel.declare_exchange(DEAD_LETTER_EXCHANGE, "direct", durable=True),
    }
    exchanges[DELAY_EXCHANGE] = await channel.declare_exchange(DELAY_EXCHANGE, "headers", durable=True)
    for spec in QUEUES:
        await declare_queue(channel, spec, exchanges)
    for level in range(len(DELAY_LEVELS)):
        # Classic queues: RabbitMQ 3.10 quorum queues have no per-message TTL.
        delayed = await channel.declare_queue(
            delay_queue(level), durable=True, arguments={"x-dead-letter-exchange": JOBS_EXCHANGE}
        )
        await delayed.bind(exchanges[DELAY_EXCHANGE], arguments={"x-match": "all", "delay-level": level})
    await declare_history(channel, history or HistorySettings(), exchanges)
    return exchanges


async def declare_history(
    channel: AbstractChannel, history: HistorySettings, exchanges: Mapping[str, AbstractExchange]
) -> None:
    """The job history stream. A stream's arguments cannot change once it exists: declaring it
    with other retention closes the channel with PRECONDITION_FAILED, reported here with what to do."""
    arguments = HISTORY_STREAM.arguments(max_age=history.max_age, max_bytes=history.max_bytes)
    try:
        stream = await channel.declare_queue(HISTORY_STREAM.name, durable=True, arguments=arguments)
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        raise HistoryMismatch(
            f"stream {HISTORY_STREAM.name!r} exists with other arguments than HISTORY_MAX_AGE="
            f"{history.max_age} HISTORY_MAX_BYTES={history.max_bytes} ({exc}). A stream's arguments "
            "cannot change: set the settings back to the stream's values, and change its retention "
            "with a policy (docs/operations.md, 'Job history')"
        ) from exc
    for exchange, key in HISTORY_STREAM.bindings:
        await stream.bind(exchanges[exchange], routing_key=key)


async def stop_consuming(channel: AbstractChannel) -> None:
    """Cancel every consumer on `channel`: the broker stops delivering, while deliveries
    already received stay unacked until they are settled (graceful shutdown)."""
    underlay = cast(aiormq.Channel, await channel.get_underlay_channel())
    for tag in list(underlay.consumers):
        await underlay.basic_cancel(tag)


async def declare_queue(
    channel: AbstractChannel, spec: QueueSpec, exchanges: Mapping[str, AbstractExchange]
) -> None:
    queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
    for key in spec.binding_keys:
        await queue.bind(exchanges[spec.exchange], routing_key=key)
    dlq = await channel.declare_queue(
        spec.dead_letter_queue, durable=True, arguments=spec.dead_letter_arguments
    )
    await dlq.bind(exchanges[DEAD_LETTER_EXCHANGE], routing_key=spec.name)


class Publisher:
    """Publishes persistent, confirmed, mandatory messages on one long-lived channel.

    A publish returns only once the broker has confirmed the message (it is on disk
    in a queue); anything else raises `PublishFailed`. Every message carries the
    connection's broker user as `user_id`, which the broker validates, so consumers
    know who published it (see shared/identity.py).
    """

    def __init__(
        self, connection: AbstractRobustConnection, timeout: float, *, user_id: str = "guest"
    ) -> None:
        self.connection = connection
        self.user_id = user_id
        self._timeout = timeout
        self._channel: ConfirmedChannel | None = None

    @classmethod
    async def connect(cls, url: str, *, name: str, publish_timeout: float = 10.0) -> "Publisher":
        """`url`: `AMQP_URL`, one node's URL or a cluster's, comma-separated (shared/broker_cluster.py)."""
        connection = await connect_cluster(url, client_properties={"connection_name": name})
        # aio-pika logs in as guest when the URL names no user.
        publisher = cls(connection, publish_timeout, user_id=node_urls(url)[0].user or "guest")
        # The topology on a channel of its own, closed again: a robust channel re-declares what
        # was declared on it whenever it reconnects, and a classic queue (the delay queues)
        # whose node is down cannot be declared, which would keep publishing down while any
        # node is. Exchanges and queues are the cluster's; publishing needs only their names.
        async with connection.channel() as setup:
            declared = await declare_topology(setup)
        publisher._channel = await ConfirmedChannel(connection, declared).open()
        return publisher

    @property
    def is_connected(self) -> bool:
        return not self.connection.is_closed and self.connection.connected.is_set()

    async def close(self) -> None:
        await self.connection.close()

    async def publish_command(self, command: JobCommand, **properties: Any) -> None:
        await self._publish(
            JOBS_EXCHANGE,
            command.operation,
            command.model_dump_json().encode(),
            message_id=command.job_id,
            type="job.command",
            **properties,
        )

    async def publish_delayed(
        self, command: JobCommand, delay: float, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Publish `command` so that it reaches its queue again after about `delay` seconds."""
        await self._publish_delayed(
            command.operation,
            command.model_dump_json().encode(),
            delay,
            message_id=command.job_id,
            type="job.command",
            headers=dict(headers or {}),
        )

    async def hand_back(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """Put a delivery back on its queue as a new message, so that handing it back (on
        shutdown) does not count as a failed delivery towards the queue's delivery limit."""
        headers = {
            k: v for k, v in (message.headers or {}).items() if k not in ("x-delivery-count", "x-death")
        }
        if message.user_id != self.user_id or FORWARDED_FOR_HEADER not in headers:
            # It comes back with our user_id: name who really published it (shared/identity.py).
            headers[FORWARDED_FOR_HEADER] = message.user_id or ""
        await self._publish_delayed(
            message.routing_key or "",
            message.body,
            0.0,
            content_type=message.content_type,
            message_id=message.message_id,
            type=message.type,
            headers=headers,
        )

    async def _publish_delayed(
        self, routing_key: str, body: bytes, delay: float, *, headers: dict[str, Any], **properties: Any
    ) -> None:
        # The lowest level whose delay is at least `delay`; the message's own TTL says the rest.
        level = delay_level_for(delay)
        await self._publish(
            DELAY_EXCHANGE,
            routing_key,
            body,
            headers={**headers, "delay-level": level},
            expiration=round(max(0.0, min(delay, DELAY_LEVELS[level])), 3),
            **properties,
        )

    async def publish_event(self, event: JobEvent) -> None:
        await self._publish(
            EVENTS_EXCHANGE,
            event_routing_key(event.operation, event.type),
            event.model_dump_json().encode(),
            message_id=f"{event.job_id}:{event.seq}",
            type=f"job.{event.type}",
        )
        record_job_event(event)  # once it is confirmed: the broker has the state change

    async def dead_letter(
        self, queue: QueueSpec, message: aio_pika.abc.AbstractIncomingMessage, code: str, reason: str
    ) -> None:
        """Park a message in `queue`'s dead-letter queue with a readable reason."""
        headers = dict(message.headers or {})
        headers.update(
            {
                "x-error-code": code,
                "x-error-reason": reason[:2000],
                "x-original-exchange": message.exchange or "",
                "x-original-routing-key": message.routing_key or "",
                "x-original-user-id": message.user_id or "",
            }
        )
        await self._publish(
            DEAD_LETTER_EXCHANGE,
            queue.name,
            message.body,
            content_type=message.content_type,
            message_id=message.message_id,
            headers=headers,
        )
        DEAD_LETTERS.labels(queue.name, code).inc()

    async def _publish(self, exchange: str, routing_key: str, body: bytes, **properties: Any) -> None:
        with publishing(exchange, routing_key):
            headers = dict(properties.pop("headers", None) or {})
            inject_context(headers)  # W3C traceparent: the consumer continues this trace
            await self._publish_confirmed(exchange, routing_key, body, headers=headers, **properties)

    async def _publish_confirmed(
        self, exchange: str, routing_key: str, body: bytes, **properties: Any
    ) -> None:
        content_type = properties.pop("content_type", None) or "application/json"

        def message() -> aio_pika.Message:  # a new one per send
            return aio_pika.Message(
                body,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type=content_type,
                user_id=self.user_id,
                **properties,
            )

        assert self._channel is not None, "Publisher.connect() first"
        await self._channel.publish(exchange, routing_key, message, self._timeout)
