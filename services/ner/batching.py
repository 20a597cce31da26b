"""Micro-batching: texts from concurrent jobs go through the model together.

spaCy's `nlp.pipe` over a batch costs a fraction per text of calling the pipeline once per
text (bench/README.md: about 2-3x on short texts). The worker holds many deliveries at once
(its prefetch), so the texts of the jobs running at the same moment are collected for a few
milliseconds and run as one batch on the single model thread. Each job still awaits only its
own text's outcome, and is acked, failed or cancelled on its own by the runner.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    """Runs `process(batch)` on `executor`, one batch at a time, for items submitted concurrently.

    A batch starts when the previous one is done and either `max_batch` items are waiting or
    the first waiting item has waited `max_wait` seconds, so a lone job is delayed by at most
    `max_wait` and a busy worker fills its batches while the model thread works on the last one.
    """

    def __init__(
        self,
        process: Callable[[Sequence[In]], Sequence[Out]],
        executor: Executor,
        *,
        max_batch: int,
        max_wait: float,
    ) -> None:
        self._process = process
        self._executor = executor
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._arrived = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: list[asyncio.Future[Out]] = []
        self.batches = 0
        """Batches run so far (for tests and logs)."""

    async def submit(self, item: In) -> Out:
        """The outcome for `item`; cancelling the caller drops the item if it has not started."""
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
                await asyncio.sleep(self._max_wait)  # let the other running jobs' items arrive
            batch = [(item, f) for item, f in self._waiting[: self._max_batch] if not f.done()]
            del self._waiting[: self._max_batch]
            if not self._waiting:
                self._arrived.clear()
            if batch:
                await self._run(batch)

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        loop = asyncio.get_running_loop()
        self.batches += 1
        self._in_flight = [f for _, f in batch]
        try:
            outcomes = await loop.run_in_executor(self._executor, self._process, [i for i, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            # One bad item must not fail the others: run them one by one to find out whose it is.
            log.warning("batch of %d failed (%s); running its items one by one", len(batch), exc)
            for item, future in batch:
                if not future.done():
                    await self._run([(item, future)])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, result=outcome)

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for future in [*self._in_flight, *(f for _, f in self._waiting)]:
            future.cancel()


def _settle(
    future: "asyncio.Future[Out]", *, result: Out | None = None, exc: Exception | None = None
) -> None:
    if future.done():  # its job was cancelled while the batch ran: nobody waits for it
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
