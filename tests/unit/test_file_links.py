"""File links (services/api/file_links.py): a ticket opens its own file only, and Redis never
holds the ticket itself."""

from datetime import UTC, datetime, timedelta
from typing import cast

from redis.asyncio import Redis

from services.api.file_links import FileLinks


class _Redis:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.expiry: dict[str, int] = {}

    async def set(self, key: str, value: str, px: int) -> None:
        self.values[key], self.expiry[key] = value, px

    async def get(self, key: str) -> str | None:
        return self.values.get(key)


async def test_a_ticket_opens_its_file_for_its_tenant_only() -> None:
    redis = _Redis()
    links = FileLinks(cast(Redis, redis), timedelta(minutes=15))
    ticket = await links.issue("acme", "a" * 32)
    assert len(ticket.value) >= 43
    assert abs((ticket.expires_at - datetime.now(UTC)) - timedelta(minutes=15)) < timedelta(seconds=5)
    assert await links.opens(ticket.value, "a" * 32) == "acme"
    assert await links.opens(ticket.value, "b" * 32) is None
    assert await links.opens(ticket.value[:-1], "a" * 32) is None
    assert await links.opens("", "a" * 32) is None
    assert list(redis.expiry.values()) == [15 * 60 * 1000]
    assert all(ticket.value not in key + value for key, value in redis.values.items())
    assert (await links.issue("acme", "a" * 32)).value != ticket.value
