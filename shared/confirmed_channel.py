"""The one channel a `Publisher` publishes on, and publishing on it until the broker confirms.

Two ways a publish can fail and still be safe to send again, both seen when a broker node of a
cluster dies (tests/faults/test_broker_cluster.py):

- The connection is lost: the robust connection moves to another node and restores the
  channel; the message is sent again there. The broker may hold the first copy, so a message
  can arrive twice, which every consumer tolerates (same job id, same event number).
- The broker nacks it: a channel that published to a quorum queue while its leader was
  dying keeps nacking every later message to that queue on RabbitMQ 3.10 (for minutes), so the
  channel is replaced and the message sent on the new one. A nack means the broker does not
  have the message: sending it again makes no duplicate. A full queue (`reject-publish`)
  nacks the new channel's copies too, and the caller gets `rejected` after a few tries.
"""

import asyncio
import logging
from collections.abc import Callable, Iterable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

__all__ = ["ConfirmedChannel", "PublishFailed"]

log = logging.getLogger(__name__)

ATTEMPTS = 4
"""Sends of one message (within the publish timeout in all)."""
NACK_BACKOFF = 0.25
"""Seconds before sending a nacked message again on a new channel; doubles per try."""


class PublishFailed(Exception):
    """The broker did not take responsibility for a message (it is not on disk)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfirmedChannel:
    def __init__(self, connection: AbstractRobustConnection, exchanges: Iterable[str]) -> None:
        self.connection = connection
        self._names = tuple(exchanges)
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._lock = asyncio.Lock()
        self._closing: set[asyncio.Future[None]] = set()

    async def open(self) -> "ConfirmedChannel":
        channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchanges = {name: await channel.get_exchange(name, ensure=False) for name in self._names}
        self._channel = channel
        return self

    async def _replace(self, failed: AbstractChannel | None) -> None:
        """A new channel, unless a concurrent publish has replaced `failed` already."""
        async with self._lock:
            if self._channel is not failed:
                return
            old = self._channel
            await self.open()
            if old is not None:  # closed in the background: its pending confirms fail
                closing = asyncio.ensure_future(old.close())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    async def publish(
        self, exchange: str, routing_key: str, message: Callable[[], aio_pika.Message], within: float
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for attempt in range(1, ATTEMPTS + 1):
            channel = self._channel
            try:
                await asyncio.wait_for(
                    self._exchanges[exchange].publish(message(), routing_key=routing_key, mandatory=True),
                    timeout=max(0.0, deadline - loop.time()),
                )
                return
            except aio_pika.exceptions.PublishError as exc:
                raise PublishFailed("unroutable", f"no queue is bound for {routing_key!r}") from exc
            except aio_pika.exceptions.DeliveryError as exc:
                pause = NACK_BACKOFF * 2 ** (attempt - 1)
                if attempt == ATTEMPTS or loop.time() + pause >= deadline:
                    raise PublishFailed("rejected", f"the broker refused the message ({exc})") from exc
                log.warning("publish to %s nacked (%s); sending it again on a new channel", exchange, exc)
                await asyncio.sleep(pause)
                await self._replace_or_fail(channel, deadline - loop.time(), exc)
            except TimeoutError as exc:
                raise PublishFailed("broker_unavailable", f"no confirm within {within}s") from exc
            except (ConnectionError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
                if attempt == ATTEMPTS or not await self._reconnected(deadline - loop.time()):
                    raise PublishFailed("broker_unavailable", f"{type(exc).__name__}: {exc}") from exc
                log.warning("publish to %s lost with the connection (%s); sending it again", exchange, exc)

    async def _replace_or_fail(self, channel: AbstractChannel | None, within: float, exc: Exception) -> None:
        try:
            await asyncio.wait_for(self._replace(channel), timeout=max(0.0, within))
        except (TimeoutError, ConnectionError, aio_pika.exceptions.AMQPError, RuntimeError) as error:
            raise PublishFailed("rejected", f"the broker refused the message ({exc})") from error

    async def _reconnected(self, within: float) -> bool:
        """Whether the connection is up again (on any node) within `within` seconds."""
        try:
            await asyncio.wait_for(self._ready(), timeout=max(0.0, within))
        except (TimeoutError, ConnectionError, aio_pika.exceptions.AMQPError, RuntimeError):
            return False
        return True

    async def _ready(self) -> None:
        await asyncio.sleep(0.05)  # a moment for the robust connection to notice the loss
        await self.connection.ready()
        if isinstance(self._channel, aio_pika.RobustChannel):
            await self._channel.ready()
