"""Micro-batching: items submitted concurrently are processed together, one batch at a time.

Used where one call for many items costs much less than one call per item: the NER worker's
texts through spaCy's `nlp.pipe` (about 2-3x per text on short texts, bench/README.md), and
the projector's events into Redis (one pipelined round trip per batch). Each caller awaits
only its own item's outcome; batches run one at a time, in submission order, so items of one
batch are processed before any later item.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

__all__ = ["MicroBatcher", "in_executor"]

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")

BatchProcess = Callable[[list[In]], Awaitable[Sequence[Out | Exception]]]
"""Outcomes of a batch's items, in order: each a result or the exception for that item alone."""


class MicroBatcher(Generic[In, Out]):
    """Runs `process(batch)` for items submitted concurrently, one batch at a time.

    A batch starts when the previous one is done and either `max_batch` items are waiting or
    the first waiting item has waited `max_wait` seconds, so a lone item is delayed by at most
    `max_wait` and a busy caller fills its batches while the last one is processed.
    """

    def __init__(self, process: BatchProcess[In, Out], *, max_batch: int, max_wait: float) -> None:
        self._process = process
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._arrived = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: list[asyncio.Future[Out]] = []
        self.batches = 0
        """Batches run so far (for tests and logs)."""

    async def submit(self, item: In) -> Out:
        """The outcome for `item`. The item is queued as soon as the call starts running, so
        awaiting `submit` directly keeps the caller's order; cancelling the caller drops the
        item if its batch has not started."""
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run_batches(), name="micro-batcher")
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._arrived.set()
        return await future

    async def _run_batches(self) -> None:
        while True:
            await self._arrived.wait()
            if len(self._waiting) < self._max_batch and self._max_wait > 0:
                await asyncio.sleep(self._max_wait)  # let the other callers' items arrive
            batch = [(item, f) for item, f in self._waiting[: self._max_batch] if not f.done()]
            del self._waiting[: self._max_batch]
            if not self._waiting:
                self._arrived.clear()
            if batch:
                await self._run(batch)

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        self.batches += 1
        self._in_flight = [f for _, f in batch]
        try:
            outcomes = await self._process([item for item, _ in batch])
        except Exception as exc:  # the process could not say whose item it was: all fail
            outcomes = [exc] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # its caller was cancelled while the batch ran
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for future in [*self._in_flight, *(f for _, f in self._waiting)]:
            future.cancel()


def in_executor(fn: Callable[[Sequence[In]], Sequence[Out]], executor: Executor) -> BatchProcess[In, Out]:
    """`fn(batch)` on `executor`. If the batch fails, its items run one by one, so that one
    bad item fails only its own caller."""

    async def process(items: list[In]) -> Sequence[Out | Exception]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, fn, items)
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            log.warning("batch of %d failed (%s); running its items one by one", len(items), exc)
            outcomes: list[Out | Exception] = []
            for item in items:
                try:
                    outcomes += await loop.run_in_executor(executor, fn, [item])
                except Exception as item_exc:
                    outcomes.append(item_exc)
            return outcomes

    return process
