"""What the runner needs from the outside world, as Protocols: the delivery it settles,
where job events go, how a command comes back later, and the cancel flags and leases.

Adapters (shared/worker/adapters.py for aio-pika and Redis, tests/support/runner_memory.py for
tests) raise `Unavailable` and nothing else when the infrastructure cannot take a call,
so the runner handles one exception where it used to list three."""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from shared.control import CancelState, LeaseState
from shared.schemas import JobCommand, JobEvent, ResultRef

__all__ = [
    "CancelControl",
    "CancelState",
    "CommandBus",
    "Delivery",
    "EventSink",
    "LeaseState",
    "ResultSink",
    "Unavailable",
]


class Unavailable(Exception):
    """The broker or Redis did not take a call; whatever it was must be tried again later."""


class Delivery(Protocol):
    """One message from the job queue, which the runner settles exactly once."""

    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, Any]: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def routing_key(self) -> str: ...
    @property
    def settled(self) -> bool: ...

    async def ack(self) -> None: ...

    async def redeliver(self) -> None:
        """Give the delivery back to the broker as it is (counts as a delivery). Never raises:
        when the channel is gone, the broker requeues by itself."""

    async def hand_back(self) -> None:
        """Publish the message again as a new one (shutdown: no delivery is counted)."""

    async def dead_letter(self, code: str, reason: str) -> None:
        """Park a copy in the queue's dead-letter queue with the reason."""


class EventSink(Protocol):
    async def publish_event(self, event: JobEvent) -> None: ...


class ResultSink(Protocol):
    async def keep(self, command: JobCommand, result: BaseModel) -> dict[str, Any] | ResultRef:
        """The result for the `succeeded` event: inline, or a reference to where it was
        written (shared/results.py); raises `Unavailable` when it could not be written."""


class CommandBus(Protocol):
    async def publish_delayed(self, command: JobCommand, delay: float, *, watchdog: bool = False) -> None:
        """`command` reaches its queue again after about `delay` seconds; `watchdog` marks
        it as the check on a leased job rather than a new attempt."""


class CancelControl(Protocol):
    async def cancelled(self, job_ids: Sequence[str]) -> set[str]: ...
    async def cancel_state(self, job_id: str) -> CancelState: ...
    async def hold_lease(self, job_id: str, owner: str, ttl: float) -> None: ...
    async def finish_lease(self, job_id: str, ttl: float) -> None: ...
    async def release_lease(self, job_id: str) -> None: ...
    async def lease_state(self, job_id: str) -> LeaseState: ...
