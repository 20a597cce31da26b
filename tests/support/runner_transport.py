"""What the runner scenarios (tests/support/runner_scenarios.py) need from a transport:
the in-memory one (tests/unit) and RabbitMQ + Redis (tests/integration) both give it."""

import abc
import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.identity import PublisherIdentities
from shared.schemas import JobCommand, JobEvent, NerInput
from shared.worker import JobContext, JobRunner, OperationConfig, RunnerConfig
from shared.worker.ports import CancelControl, CommandBus, EventSink

__all__ = ["Handler", "RunnerTransport", "Timing"]

Handler = Callable[[NerInput, JobContext], Coroutine[Any, Any, BaseModel]]
TRUSTED = PublisherIdentities(["guest"], {})


@dataclass(frozen=True)
class Timing:
    """Seconds; short in memory, longer where a real broker and Redis take their time."""

    retry_base_delay: float
    cancel_poll_interval: float
    time_limit: float
    lease_after: float
    lease_ttl: float
    patience: float
    """How long a scenario waits for an event before it fails."""


class RunnerTransport(abc.ABC):
    timing: Timing

    def __init__(self) -> None:
        self.runners: list[JobRunner] = []

    # What each transport provides.
    @abc.abstractmethod
    def ports(self) -> tuple[EventSink, CommandBus, CancelControl]: ...
    @abc.abstractmethod
    async def consume(self, runner: JobRunner) -> None: ...
    @abc.abstractmethod
    async def publish_raw(self, body: bytes, routing_key: str) -> None: ...
    @abc.abstractmethod
    def events(self) -> list[JobEvent]: ...
    @abc.abstractmethod
    async def dead_letter(self) -> tuple[str, bytes]:
        """The next dead letter: (x-error-code, body); fails when none comes."""

    @abc.abstractmethod
    async def request_cancel(self, job_id: str, *, recorded: bool = False) -> None:
        """`recorded`: as the API does when it has published the job's `cancelled` itself."""

    @abc.abstractmethod
    async def crash_holding_next(self) -> None:
        """Take the next delivery and die holding it (as a SIGKILLed worker does)."""

    @abc.abstractmethod
    async def stop_and_drain(self, runner: JobRunner, grace: float) -> None: ...
    @abc.abstractmethod
    async def kill(self, runner: JobRunner) -> None:
        """The runner's process dies: nothing is settled, released or published."""

    @abc.abstractmethod
    def fail_next_publishes(self, count: int) -> None:
        """The next `count` publishes of the runner raise `Unavailable`."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # Shared by both.
    async def runner(
        self,
        handler: Handler,
        *,
        time_limit: float | None = None,
        max_attempts: int = 3,
        identities: PublisherIdentities = TRUSTED,
        started_event_after: float = 0.0,
    ) -> JobRunner:
        t = self.timing
        config = RunnerConfig(
            retry_base_delay=t.retry_base_delay,
            retry_max_delay=600,
            cancel_poll_interval=t.cancel_poll_interval,
            lease_after=t.lease_after,
            lease_ttl=t.lease_ttl,
            started_event_after=started_event_after,
        )
        operation = OperationConfig(handler, time_limit=time_limit or 30, max_attempts=max_attempts)
        events, bus, control = self.ports()
        runner = JobRunner("ner.jobs", events, bus, control, {"ner.entities": operation}, config, identities)
        runner.start()
        await self.consume(runner)
        self.runners.append(runner)
        return runner

    async def submit(self, text: str = "Paris", tenant: str = "t") -> JobCommand:
        command = JobCommand(
            job_id=str(uuid.uuid4()),
            tenant=tenant,
            operation="ner.entities",
            input={"text": text},
            created_at=datetime.now(UTC),
        )
        await self.publish_raw(command.model_dump_json().encode(), command.operation)
        return command

    def of(self, job_id: str) -> list[JobEvent]:
        return [e for e in self.events() if e.job_id == job_id]

    async def until(self, job_id: str, kind: str, within: float | None = None) -> list[JobEvent]:
        deadline = asyncio.get_running_loop().time() + (within or self.timing.patience)
        while asyncio.get_running_loop().time() < deadline:
            if any(e.type == kind for e in self.of(job_id)):
                return self.of(job_id)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {kind} event for {job_id}: {[e.type for e in self.of(job_id)]}")
