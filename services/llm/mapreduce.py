"""Map-reduce over pieces of text: map each piece concurrently, then combine the results
in rounds (each round at least halves them) until one is left; progress after every call."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from services.llm.chunking import pack
from shared.worker import JobContext

__all__ = ["MapReduce", "gather_all", "planned_combines"]

MapStep = Callable[[int, int, str], Awaitable[str]]
"""(number, count, piece) -> result; count == 1 means this result is the final one."""
CombineStep = Callable[[list[str], bool], Awaitable[str]]
"""(results in order, final) -> combined result."""


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_error(first) if isinstance(first, BaseExceptionGroup) else first


async def gather_all(coroutines: Sequence[Coroutine[Any, Any, str]]) -> list[str]:
    """Run concurrently; the first failure cancels the others (closing their HTTP calls) and is
    raised as itself, not wrapped in an exception group, so callers can catch it by type."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as failed:
        raise _first_error(failed) from None
    return [t.result() for t in tasks]


def planned_combines(pieces: int, result_tokens: int, limit: int) -> int:
    """Combine calls needed when every result is as long as allowed (an upper estimate)."""
    calls, count = 0, pieces
    while count > 1:
        count = len(pack([result_tokens] * count, limit))
        calls += count
    return calls


class MapReduce:
    def __init__(
        self,
        ctx: JobContext,
        *,
        measure: Callable[[str], int],
        limit: int,
        result_tokens: int,
    ) -> None:
        self._ctx = ctx
        self._measure = measure
        self._limit = limit
        self._result_tokens = result_tokens
        self._done = 0
        self._planned = 1
        self._fraction = 0.0
        self._publishing = asyncio.Lock()

    async def _step_done(self, message: str) -> None:
        # One progress event at a time: concurrent publishes of one job's events can reach
        # the read model out of order, where the older one would be dropped as stale.
        async with self._publishing:
            self._done += 1
            # the plan is an upper estimate: the fraction only grows, and reaches 1 with the result
            self._fraction = max(self._fraction, min(self._done / self._planned, 0.99))
            await self._ctx.progress(self._fraction, message)

    async def run(self, pieces: Sequence[str], map_step: MapStep, combine_step: CombineStep) -> str:
        count = len(pieces)
        self._planned = count + planned_combines(count, self._result_tokens, self._limit)

        async def mapped(number: int, piece: str) -> str:
            result = await map_step(number, count, piece)
            await self._step_done(f"chunk {number} of {count} done")
            return result

        results = await gather_all([mapped(n, p) for n, p in enumerate(pieces, 1)])
        rounds = 0
        while len(results) > 1:
            rounds += 1
            groups = pack([self._measure(r) for r in results], self._limit)
            final = len(groups) == 1

            async def combined(number: int, members: list[str], total: int, round_: int, final: bool) -> str:
                result = await combine_step(members, final)
                await self._step_done(f"combining, round {round_}: {number} of {total} done")
                return result

            results = await gather_all(
                [
                    combined(n, [results[i] for i in g], len(groups), rounds, final)
                    for n, g in enumerate(groups, 1)
                ]
            )
        return results[0]
