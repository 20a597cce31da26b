"""A RabbitMQ cluster behind the one `AMQP_URL` setting: a comma-separated list of the
URLs of its nodes (same user, password and vhost: one cluster), e.g.
`amqp://jobs-api:secret@rmq-1:5672/,amqp://jobs-api:secret@rmq-2:5672/`.

aio-pika's robust connection reconnects to the one URL it was given. `ClusterConnection`
is a robust connection that tries the nodes in turn on every (re)connect, starting with
the node after the one it lost, so a service reaches the first node that answers and,
when that node dies, is on another one within about a second. Its channels, exchanges,
queues and consumers are restored there by aio-pika as after any reconnect.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import aio_pika
from aio_pika import RobustConnection
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aiormq.exceptions import AMQPError
from yarl import URL

__all__ = [
    "ClusterConnection",
    "connect_cluster",
    "connect_first",
    "connection_options",
    "node_urls",
    "redacted",
]

log = logging.getLogger(__name__)

RECONNECT_INTERVAL = 2.0
"""Seconds between rounds over all nodes when none answered (aio-pika's default is 5)."""

NODE_CONNECT_TIMEOUT = 5.0
"""Seconds one node gets to accept a connection before the next is tried: a node that
died with its host (no RST, packets dropped) must not stall the fail-over."""

# RobustConnection's one (re)connect attempt, called by its reconnect loop; overridden below
# to try each node. A KeyError here at import: aio-pika renamed it (pinned <11; check the source).
_connect_one: Callable[[RobustConnection], Awaitable[None]] = vars(RobustConnection)[
    "_RobustConnection__connect_transport"
]


def redacted(url: str | URL) -> str:
    """The URL with its password replaced, for logs and errors."""
    parsed = URL(str(url))
    return str(parsed.with_password("******")) if parsed.password else str(parsed)


def node_urls(amqp_url: str) -> tuple[URL, ...]:
    """The nodes of `AMQP_URL`, checked to be one cluster's (they differ in host and port only)."""
    urls = tuple(URL(part.strip()) for part in amqp_url.split(",") if part.strip())
    if not urls:
        raise ValueError("AMQP_URL names no broker node")
    first = urls[0]
    for url in urls[1:]:
        if (url.scheme, url.user, url.password, url.path) != (
            first.scheme,
            first.user,
            first.password,
            first.path,
        ):
            raise ValueError(
                "the nodes in AMQP_URL must have the same scheme, user, password and vhost "
                f"(one cluster): {redacted(first)} vs {redacted(url)}"
            )
    return urls


class ClusterConnection(RobustConnection):
    """A robust connection to whichever node of `NODES` answers (a subclass per node list:
    `connection_options` makes it; aio-pika builds the connection from the class)."""

    NODES: ClassVar[tuple[tuple[str, int], ...]] = ()
    """(host, port) of every node; empty: only the URL the connection was given."""

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any) -> None:
        super().__init__(url, loop, **kwargs)
        # The given URL (the first node's, with the options aio-pika put in its query) is
        # the template: the other nodes differ from it in host and port only.
        self._nodes = self.NODES or ((self.url.host or "localhost", self.url.port or 5672),)
        self._node = 0

    async def _RobustConnection__connect_transport(self) -> None:
        """One reconnect attempt: each node once, from the current one on, until one answers."""
        error: BaseException | None = None
        for _ in self._nodes:
            host, port = self._nodes[self._node]
            self.url = self.url.with_host(host).with_port(port)
            try:
                await asyncio.wait_for(_connect_one(self), NODE_CONNECT_TIMEOUT)
            except CONNECTION_EXCEPTIONS as exc:
                log.warning("broker node %s:%s not reachable (%s: %s)", host, port, type(exc).__name__, exc)
                error = exc
                self._node = (self._node + 1) % len(self._nodes)
            else:
                if len(self._nodes) > 1:
                    log.info("connected to broker node %s:%s", host, port)
                return
        assert error is not None
        raise error

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        if self.connected.is_set() and not (self._close_called or self.is_closed):
            # An established connection was lost, its node likely gone: start the reconnect
            # with the next one. (A failed attempt lands here too: its loop moves on itself.)
            self._node = (self._node + 1) % len(self._nodes)
        await super()._on_connection_close(closing)


def connection_options(amqp_url: str) -> dict[str, Any]:
    """Keyword arguments for `aio_pika.connect_robust` (and Propan's `RabbitBroker`, which
    passes them on) that connect to the nodes of `amqp_url` with `ClusterConnection`."""
    urls = node_urls(amqp_url)
    nodes = tuple((url.host or "localhost", url.port or 5672) for url in urls)
    connection_class = type("ClusterConnection", (ClusterConnection,), {"NODES": nodes})
    return {
        "url": str(urls[0]),
        "connection_class": connection_class,
        "reconnect_interval": RECONNECT_INTERVAL,
    }


async def connect_cluster(amqp_url: str, **kwargs: Any) -> AbstractRobustConnection:
    """`aio_pika.connect_robust` to the first node of `amqp_url` that answers."""
    connection: AbstractRobustConnection = await aio_pika.connect_robust(
        **connection_options(amqp_url), **kwargs
    )
    return connection


async def connect_first(amqp_url: str, **kwargs: Any) -> AbstractConnection:
    """A plain (not robust) connection to the first node of `amqp_url` that answers, for a
    reader that decides itself where to resume after a reconnect."""
    nodes = node_urls(amqp_url)
    for node in nodes[:-1]:
        with contextlib.suppress(AMQPError, OSError):
            connection: AbstractConnection = await aio_pika.connect(node, **kwargs)
            return connection
    last: AbstractConnection = await aio_pika.connect(nodes[-1], **kwargs)
    return last
