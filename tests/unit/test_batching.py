import asyncio
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.batching import MicroBatcher, in_executor


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


class Recorder:
    """Upper-cases its items and remembers every batch it was given."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        if self.fail_on in items:
            raise ValueError(f"cannot process {self.fail_on!r}")
        return [item.upper() for item in items]


async def test_concurrent_items_share_one_batch_and_each_gets_its_own_result(
    executor: ThreadPoolExecutor,
) -> None:
    process = Recorder()
    batcher = MicroBatcher(in_executor(process, executor), max_batch=64, max_wait=0.05)
    results = await asyncio.gather(*(batcher.submit(f"text {i}") for i in range(10)))
    assert results == [f"TEXT {i}" for i in range(10)]
    assert process.batches == [[f"text {i}" for i in range(10)]]
    await batcher.close()


async def test_batches_hold_at_most_max_batch_items(executor: ThreadPoolExecutor) -> None:
    process = Recorder()
    batcher = MicroBatcher(in_executor(process, executor), max_batch=4, max_wait=0.05)
    results = await asyncio.gather(*(batcher.submit(str(i)) for i in range(10)))
    assert results == [str(i) for i in range(10)]
    assert [len(b) for b in process.batches] == [4, 4, 2]
    await batcher.close()


async def test_a_lone_item_waits_about_max_wait(executor: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(in_executor(Recorder(), executor), max_batch=64, max_wait=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await batcher.submit("alone") == "ALONE"
    assert 0.2 <= loop.time() - started < 1.5
    await batcher.close()


async def test_one_failing_item_fails_only_its_own_caller(executor: ThreadPoolExecutor) -> None:
    process = Recorder(fail_on="bad")
    batcher = MicroBatcher(in_executor(process, executor), max_batch=64, max_wait=0.05)
    outcomes = await asyncio.gather(
        batcher.submit("a"), batcher.submit("bad"), batcher.submit("c"), return_exceptions=True
    )
    assert outcomes[0] == "A"
    assert outcomes[2] == "C"
    assert isinstance(outcomes[1], ValueError)
    assert process.batches[0] == ["a", "bad", "c"]  # tried together first, then one by one
    await batcher.close()


async def test_an_item_cancelled_before_its_batch_starts_is_not_processed(
    executor: ThreadPoolExecutor,
) -> None:
    process = Recorder()
    batcher = MicroBatcher(in_executor(process, executor), max_batch=64, max_wait=0.1)
    cancelled = asyncio.create_task(batcher.submit("cancelled"))
    kept = asyncio.create_task(batcher.submit("kept"))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    assert await kept == "KEPT"
    assert process.batches == [["kept"]]
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await batcher.close()


async def test_close_cancels_the_items_still_waiting(executor: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(in_executor(Recorder(), executor), max_batch=64, max_wait=5)
    waiting = asyncio.create_task(batcher.submit("never"))
    await asyncio.sleep(0.01)
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
