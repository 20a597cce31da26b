"""The runner's ports in memory: a queue with delivery counts, delay and dead-letter
queues, and cancel flags and leases with lifetimes, all on the event loop's clock.
Faithful to what the runner relies on (tests/support/runner_scenarios.py runs the same
cases on RabbitMQ and Redis); nothing else of a broker."""

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.control import CancelState
from shared.identity import FORWARDED_FOR_HEADER
from shared.schemas import JobCommand, JobEvent
from shared.schemas.topology import DELIVERY_LIMIT
from shared.worker import JobRunner
from shared.worker.intake import WATCHDOG_HEADER
from shared.worker.ports import CancelControl, CommandBus, EventSink, LeaseState, Unavailable
from tests.support.runner_transport import RunnerTransport, Timing

__all__ = ["MemoryBroker", "MemoryControl", "MemoryDelivery", "MemoryTransport"]


@dataclass(eq=False)
class MemoryDelivery:
    """A message in the queue, and once taken, its delivery (the runner's `Delivery`)."""

    body: bytes
    broker: "MemoryBroker"
    headers: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = "guest"
    routing_key: str = ""
    message_id: str | None = None
    settled: bool = False

    def _settle(self) -> None:
        assert not self.settled, "a delivery is settled once"
        self.settled = True

    async def ack(self) -> None:
        self._settle()

    async def redeliver(self) -> None:
        self._settle()
        self.broker.requeue(self)

    async def hand_back(self) -> None:
        self.broker.check_available()
        headers = {k: v for k, v in self.headers.items() if k != "x-delivery-count"}
        headers.setdefault(FORWARDED_FOR_HEADER, self.user_id or "")
        self.broker.enqueue(replace(self, headers=headers, user_id="guest", settled=False))

    async def dead_letter(self, code: str, reason: str) -> None:
        self.broker.check_available()
        headers = {**self.headers, "x-error-code": code, "x-error-reason": reason}
        self.broker.dead_letters.append(replace(self, headers=headers))


class MemoryBroker:
    """One job queue, its dead-letter queue, the delay queues and the events exchange."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[MemoryDelivery] = asyncio.Queue()
        self.dead_letters: list[MemoryDelivery] = []
        self.events: list[JobEvent] = []
        self.failing_publishes = 0
        """The next this many publishes fail as if the broker were away."""
        self.delivered = 0

    def check_available(self) -> None:
        if self.failing_publishes > 0:
            self.failing_publishes -= 1
            raise Unavailable("the broker is away (on purpose)")

    def enqueue(self, message: MemoryDelivery, delay: float = 0.0) -> None:
        if delay <= 0:
            self.queue.put_nowait(message)
        else:
            asyncio.get_running_loop().call_later(delay, self.queue.put_nowait, message)

    def requeue(self, message: MemoryDelivery) -> None:
        """What RabbitMQ does with a returned delivery of a quorum queue: count it, and at
        the delivery limit dead-letter it itself."""
        count = message.headers.get("x-delivery-count", 0) + 1
        again = replace(message, headers={**message.headers, "x-delivery-count": count}, settled=False)
        if count >= DELIVERY_LIMIT:
            self.dead_letters.append(again)
        else:
            self.queue.put_nowait(again)

    async def publish_event(self, event: JobEvent) -> None:
        self.check_available()
        self.events.append(event)

    async def publish_delayed(self, command: JobCommand, delay: float, *, watchdog: bool = False) -> None:
        self.check_available()
        headers = {WATCHDOG_HEADER: 1} if watchdog else {}
        body = command.model_dump_json().encode()
        self.enqueue(MemoryDelivery(body, self, headers, routing_key=command.operation), delay)


class MemoryControl:
    """Cancel flags and leases that expire on the loop's clock, as Redis keys would."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, float]] = {}

    def _get(self, key: str) -> str | None:
        value, expires = self._keys.get(key, ("", 0.0))
        return value if expires > asyncio.get_running_loop().time() else None

    def _set(self, key: str, value: str, ttl: float) -> None:
        self._keys[key] = (value, asyncio.get_running_loop().time() + ttl)

    def request_cancel(self, job_id: str, ttl: float = 60, *, recorded: bool = False) -> None:
        self._set(f"cancel:{job_id}", "recorded" if recorded else "1", ttl)

    async def cancel_state(self, job_id: str) -> CancelState:
        value = self._get(f"cancel:{job_id}")
        return None if value is None else "recorded" if value == "recorded" else "requested"

    async def cancelled(self, job_ids: Sequence[str]) -> set[str]:
        return {j for j in job_ids if self._get(f"cancel:{j}")}

    async def hold_lease(self, job_id: str, owner: str, ttl: float) -> None:
        self._set(f"lease:{job_id}", f"held:{owner}", ttl)

    async def finish_lease(self, job_id: str, ttl: float) -> None:
        self._set(f"lease:{job_id}", "done", ttl)

    async def release_lease(self, job_id: str) -> None:
        self._keys.pop(f"lease:{job_id}", None)

    async def lease_state(self, job_id: str) -> LeaseState:
        value = self._get(f"lease:{job_id}")
        if value is None:
            return None
        return "done" if value == "done" else "held"


class MemoryTransport(RunnerTransport):
    # retry base, cancel poll, time limit, lease after, lease ttl, patience: seconds
    timing = Timing(0.05, 0.02, 0.1, 0.05, 0.15, 2.0)

    def __init__(self) -> None:
        super().__init__()
        self.broker = MemoryBroker()
        self.control = MemoryControl()
        self._consumers: dict[int, asyncio.Task[None]] = {}
        self._handling: dict[int, list[tuple[asyncio.Task[None], MemoryDelivery]]] = {}

    def ports(self) -> tuple[EventSink, CommandBus, CancelControl]:
        return self.broker, self.broker, self.control

    async def consume(self, runner: JobRunner) -> None:
        handling = self._handling.setdefault(id(runner), [])

        async def loop() -> None:
            while True:
                delivery = await self.broker.queue.get()
                handling.append((asyncio.create_task(runner.handle(delivery)), delivery))

        self._consumers[id(runner)] = asyncio.create_task(loop())

    async def publish_raw(self, body: bytes, routing_key: str) -> None:
        self.broker.enqueue(
            MemoryDelivery(body, self.broker, routing_key=routing_key, message_id=str(uuid.uuid4()))
        )

    def events(self) -> list[JobEvent]:
        return self.broker.events

    async def dead_letter(self) -> tuple[str, bytes]:
        for _ in range(int(self.timing.patience / 0.01)):
            if self.broker.dead_letters:
                message = self.broker.dead_letters.pop(0)
                return str(message.headers.get("x-error-code")), message.body
            await asyncio.sleep(0.01)
        raise AssertionError("nothing was dead-lettered")

    async def request_cancel(self, job_id: str, *, recorded: bool = False) -> None:
        self.control.request_cancel(job_id, recorded=recorded)

    async def crash_holding_next(self) -> None:
        self.broker.requeue(await self.broker.queue.get())

    async def stop_and_drain(self, runner: JobRunner, grace: float) -> None:
        self._consumers.pop(id(runner)).cancel()
        await runner.drain(grace)

    async def kill(self, runner: JobRunner) -> None:
        self._consumers.pop(id(runner)).cancel()
        handling = self._handling.pop(id(runner), [])
        for task, _ in handling:
            task.cancel()
        await asyncio.gather(*(task for task, _ in handling), return_exceptions=True)
        for _, delivery in handling:
            if not delivery.settled:  # the broker sees the channel close
                self.broker.requeue(delivery)
        await runner.drain(0)  # only stops its cancel poller: nothing runs any more

    def fail_next_publishes(self, count: int) -> None:
        self.broker.failing_publishes = count

    async def close(self) -> None:
        for consumer in self._consumers.values():
            consumer.cancel()
        for runner in self.runners:
            await runner.drain(0)
