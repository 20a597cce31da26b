import asyncio

from services.projector.projection import KeyedLocks


async def test_keyed_locks_serialize_one_key_in_arrival_order_and_clean_up() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def apply(key: str, name: str, pause: float) -> None:
        async with locks.hold(key):
            await asyncio.sleep(pause)
            order.append(name)

    # started in this order; without the lock "b" (shorter) would finish first
    await asyncio.gather(apply("job", "a", 0.05), apply("job", "b", 0.0), apply("other", "c", 0.0))
    assert order.index("a") < order.index("b")
    assert order[0] == "c"  # another key is not held up
    assert locks._locks == {}
