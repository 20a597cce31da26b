"""The runner's ports on the real infrastructure: aio-pika deliveries, the confirmed
`Publisher` and Redis (`JobControl`). Every infrastructure error becomes `Unavailable`."""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pydantic import BaseModel
from redis.exceptions import RedisError

from shared.batching import MicroBatcher
from shared.control import JobControl
from shared.messaging import Publisher, PublishFailed
from shared.results import ResultStore
from shared.schemas import JobCommand, JobEvent, ResultRef
from shared.schemas.topology import QueueSpec
from shared.storage import StorageUnavailable
from shared.worker.intake import WATCHDOG_HEADER
from shared.worker.ports import CancelState, LeaseState, Unavailable

__all__ = ["AmqpDelivery", "PublisherBus", "RedisControl", "StoredResults"]


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (
        PublishFailed,
        RedisError,
        ConnectionError,
        aio_pika.exceptions.AMQPError,
        StorageUnavailable,
        OSError,
    ) as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc


class AmqpDelivery:
    """An aio-pika delivery of `queue`; re-publishing goes through `publisher`."""

    def __init__(self, message: AbstractIncomingMessage, publisher: Publisher, queue: QueueSpec) -> None:
        self.message = message
        self._publisher = publisher
        self._queue = queue

    @property
    def body(self) -> bytes:
        return self.message.body

    @property
    def headers(self) -> Mapping[str, Any]:
        return self.message.headers or {}

    @property
    def user_id(self) -> str | None:
        return self.message.user_id

    @property
    def message_id(self) -> str | None:
        return self.message.message_id

    @property
    def routing_key(self) -> str:
        return self.message.routing_key or ""

    @property
    def settled(self) -> bool:
        return self.message.processed

    async def ack(self) -> None:
        with _unavailable():
            await self.message.ack()

    async def redeliver(self) -> None:
        with suppress(Exception):  # channel gone: the broker requeues by itself
            await self.message.nack(requeue=True)

    async def hand_back(self) -> None:
        with _unavailable():
            await self._publisher.hand_back(self.message)

    async def dead_letter(self, code: str, reason: str) -> None:
        with _unavailable():
            await self._publisher.dead_letter(self._queue, self.message, code, reason)


class PublisherBus:
    """Job events and delayed commands through the confirmed publisher."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def publish_event(self, event: JobEvent) -> None:
        with _unavailable():
            await self.publisher.publish_event(event)

    async def publish_delayed(self, command: JobCommand, delay: float, *, watchdog: bool = False) -> None:
        with _unavailable():
            headers = {WATCHDOG_HEADER: 1} if watchdog else None
            await self.publisher.publish_delayed(command, delay, headers=headers)


class StoredResults:
    """Large results to the file storage (shared/results.py); a storage that does not take
    one makes the delivery come back, as a broker that does not take the event would."""

    def __init__(self, store: ResultStore) -> None:
        self.store = store

    async def keep(self, command: JobCommand, result: BaseModel) -> dict[str, Any] | ResultRef:
        with _unavailable():
            return await self.store.keep(command, result)


class RedisControl:
    """Cancel flags and leases in Redis. The cancel flags of deliveries taken at the same time
    are read together (one MGET per micro-batch, `shared/batching.py`): one Redis round trip
    for a burst of deliveries instead of one each."""

    def __init__(self, control: JobControl) -> None:
        self.control = control
        self._states: MicroBatcher[str, CancelState] = MicroBatcher(
            control.cancel_states, max_batch=256, max_wait=0.0
        )

    async def cancelled(self, job_ids: Sequence[str]) -> set[str]:
        with _unavailable():
            return await self.control.cancelled(job_ids)

    async def cancel_state(self, job_id: str) -> CancelState:
        with _unavailable():
            return await self._states.submit(job_id)

    async def hold_lease(self, job_id: str, owner: str, ttl: float) -> None:
        with _unavailable():
            await self.control.hold_lease(job_id, owner, ttl)

    async def finish_lease(self, job_id: str, ttl: float) -> None:
        with _unavailable():
            await self.control.finish_lease(job_id, ttl)

    async def release_lease(self, job_id: str) -> None:
        with _unavailable():
            await self.control.release_lease(job_id)

    async def lease_state(self, job_id: str) -> LeaseState:
        with _unavailable():
            return await self.control.lease_state(job_id)
