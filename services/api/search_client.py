"""The API's side of the `rag.search` RPC: a synchronous search without a model in the API.

The query must be embedded and the collection's vectors searched; both live in the rag
service (its model and its vectors in memory), so the API publishes a `SearchCall` to queue
`rag.search` and awaits the `SearchReply` on RabbitMQ's direct reply-to pseudo-queue
(`amq.rabbitmq.reply-to`: no reply queue to declare or delete; the reply comes back on the
channel that asked). `mandatory` + confirms: when no rag service has declared the queue, the
broker returns the call at once and the API answers 503 instead of waiting out its timeout.
"""

import asyncio
import logging
import uuid

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, DeliveryError

from shared.broker_cluster import connect_cluster
from shared.schemas.rag import SearchCall, SearchReply
from shared.schemas.topology import RAG_SEARCH_QUEUE

__all__ = ["SearchClient", "SearchUnavailable"]

log = logging.getLogger(__name__)

REPLY_TO = "amq.rabbitmq.reply-to"


class SearchUnavailable(Exception):
    """No rag service answered (none running, the broker away, or too slow)."""


class SearchClient:
    def __init__(self, connection: AbstractRobustConnection, wait: float) -> None:
        self._connection = connection
        self._timeout = wait
        self._channel: AbstractChannel | None = None
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._opening = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str, wait: float) -> "SearchClient":
        connection = await connect_cluster(url, client_properties={"connection_name": "api-search"})
        return cls(connection, wait)

    async def close(self) -> None:
        await self._connection.close()

    async def _open(self) -> AbstractChannel:
        """The channel that asks and hears the replies; opened again after it closed."""
        async with self._opening:
            if self._channel is None or self._channel.is_closed:
                channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
                replies = await channel.get_queue(REPLY_TO, ensure=False)
                await replies.consume(self._on_reply, no_ack=True)  # direct reply-to: no-ack only
                self._channel = channel
            return self._channel

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message.body)

    async def search(self, call: SearchCall) -> SearchReply:
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            channel = await self._open()
            await channel.default_exchange.publish(
                aio_pika.Message(
                    call.model_dump_json().encode(),
                    content_type="application/json",
                    correlation_id=correlation_id,
                    reply_to=REPLY_TO,
                    expiration=self._timeout,
                ),
                routing_key=RAG_SEARCH_QUEUE,
                mandatory=True,
            )
            body = await asyncio.wait_for(future, self._timeout)
        except DeliveryError as exc:
            raise SearchUnavailable("no rag service is running") from exc
        except TimeoutError as exc:
            raise SearchUnavailable(f"no answer from the rag service within {self._timeout} s") from exc
        except (AMQPError, ConnectionError, OSError) as exc:
            log.warning("search call failed: %r", exc)
            raise SearchUnavailable("the broker is unavailable") from exc
        finally:
            self._pending.pop(correlation_id, None)
        return SearchReply.model_validate_json(body)
