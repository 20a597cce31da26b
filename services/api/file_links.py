"""File links: a random ticket in a URL that opens one file of one tenant without an API key,
until it expires (`API_FILE_LINK_SECONDS`).

Browsers cannot put the `Authorization` header on a link or a new tab, and the dashboard keeps
its key in the tab: a link carrying the key itself would leave it in the browser's history. A
ticket opens only the file it was made for, for minutes. Redis keeps the ticket's SHA-256,
not the ticket, so a copy of the database opens nothing; it expires with the key. The logs
never show a query string (shared/telemetry/logs.py), so the ticket stays out of them.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from shared.redis_keys import file_link_key

__all__ = ["FileLinks", "Ticket"]

TICKET_BYTES = 32
TICKET_MAX_LENGTH = 64
"""Characters a ticket may have in a request (`token_urlsafe(32)` gives 43)."""


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


@dataclass(frozen=True)
class Ticket:
    value: str
    expires_at: datetime


class FileLinks:
    def __init__(self, redis: Redis, ttl: timedelta) -> None:
        self._redis = redis
        self.ttl = ttl

    async def issue(self, tenant: str, file_id: str) -> Ticket:
        ticket = secrets.token_urlsafe(TICKET_BYTES)
        expires_at = datetime.now(UTC) + self.ttl
        value = json.dumps({"tenant": tenant, "file_id": file_id})
        await self._redis.set(file_link_key(_digest(ticket)), value, px=int(self.ttl.total_seconds() * 1000))
        return Ticket(ticket, expires_at)

    async def opens(self, ticket: str, file_id: str) -> str | None:
        """The tenant whose file `file_id` this ticket opens, or None (unknown, expired, or
        made for another file)."""
        raw = await self._redis.get(file_link_key(_digest(ticket)))
        if raw is None:
            return None
        try:
            found = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(found, dict) or found.get("file_id") != file_id:
            return None
        tenant = found.get("tenant")
        return tenant if isinstance(tenant, str) else None
