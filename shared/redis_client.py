"""The one way every service connects to Redis: straight to `REDIS_URL`, or, with
`REDIS_SENTINELS` set, to whichever server the sentinels name as the master.

A sentinel-managed connection asks the sentinels for the master's address each time it
connects, so after a fail-over every new connection goes to the promoted replica. A
connection that was open to the old master fails (`ConnectionError`: the process died, or
sentinel closed its clients when it demoted it), and one that reaches a demoted master
gets `READONLY`, which redis-py's sentinel connection turns into a `ConnectionError` and
a reconnect: so every caller sees a fail-over as the transient Redis outage it already
handles (503, a retried batch, a job handed back), never as a wrong answer.
Lua scripts are not replicated: the first EVALSHA on the new master gets NOSCRIPT, and
redis-py's `Script` (and `JobStore.apply_many`) loads the script again.
"""

from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

__all__ = ["RedisTarget", "check_redis_url", "parse_sentinels"]


def _redacted(url: str) -> str:
    """The URL without its password, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def check_redis_url(url: str) -> dict[str, Any]:
    """redis-py's options from `REDIS_URL`, or a ValueError that says what is wrong with it."""
    shown = _redacted(url)
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"REDIS_URL {shown!r} must start with redis://, rediss:// or unix://")
    try:
        urlsplit(url).port  # noqa: B018 - raises on a port that is no number or out of range
        options = parse_url(url)
    except ValueError as exc:
        raise ValueError(f"REDIS_URL {shown!r} is malformed: {exc}") from None
    database = urlsplit(url).path.strip("/")
    if scheme != "unix" and database and not database.isdigit():
        raise ValueError(f"REDIS_URL {shown!r}: the path must be a database number, e.g. redis://host:6379/4")
    if scheme == "unix" and not options.get("path"):
        raise ValueError(f"REDIS_URL {shown!r} names no socket path (unix:///run/redis.sock?db=0)")
    db = options.get("db", 0)
    if not isinstance(db, int) or db < 0:
        raise ValueError(f"REDIS_URL {shown!r}: the database number must be a whole number ≥ 0")
    return dict(options)


def parse_sentinels(value: str) -> list[tuple[str, int]]:
    """`host:port,host:port` (IPv6 hosts in brackets) as address pairs, or a ValueError."""
    addresses = []
    for item in (part.strip() for part in value.split(",")):
        host, colon, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"REDIS_SENTINELS entry {item!r} is not host:port; expected e.g. "
                "'10.0.0.5:26379,10.0.0.6:26379,10.0.0.7:26379'"
            )
        addresses.append((host, int(port)))
    return addresses


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The sentinel master pool, waiting for a free connection (bounded) like the direct one
    instead of failing at `max_connections`."""


class _SentinelMaster(Redis):
    """The master's client; closing it also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        await cast(SentinelConnectionPool, self.connection_pool).sentinel_manager.aclose()


class RedisTarget:
    """Where a service's Redis is and how it talks to it (built from the common settings)."""

    def __init__(
        self,
        url: str,
        *,
        sentinels: list[tuple[str, int]] | None,
        master: str,
        sentinel_password: str | None,
        timeout: float,
        max_connections: int,
    ) -> None:
        self.url = url
        self.sentinels = sentinels
        self.master = master
        self.sentinel_password = sentinel_password
        self.timeout = timeout
        self.max_connections = max_connections

    def _connection_options(self) -> dict[str, Any]:
        return {
            "decode_responses": True,
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "health_check_interval": 30,
        }

    def client(self) -> Redis:
        if not self.sentinels:
            pool = BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=self.timeout,
                **self._connection_options(),
            )
            return Redis(connection_pool=pool)
        # The URL's user, password, database, TLS and options apply; its host is the sentinels' to name.
        parsed = check_redis_url(self.url)
        options = {k: v for k, v in parsed.items() if k not in ("host", "port", "path", "connection_class")}
        tls = parsed.get("connection_class") is SSLConnection
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            self.sentinels,
            sentinel_kwargs={
                "password": self.sentinel_password,
                "socket_timeout": self.timeout,
                "socket_connect_timeout": self.timeout,
            },
            **{**self._connection_options(), **options},
            ssl=tls,
        )
        return cast(
            Redis,
            sentinel.master_for(
                self.master,
                redis_class=_SentinelMaster,
                connection_pool_class=_BlockingSentinelPool,
                max_connections=self.max_connections,
                timeout=self.timeout,
            ),
        )
