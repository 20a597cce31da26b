"""Redis settings (shared/settings.py, shared/redis_client.py): a direct URL or Redis Sentinel,
clear errors for malformed values, and the client each builds (no I/O)."""

from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.sentinel import SentinelConnectionPool

from shared.settings import CommonSettings


def settings(**env: str) -> CommonSettings:
    return CommonSettings.model_validate(env)


def refusal(**env: str) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**env)
    return str(caught.value)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:6379/0", "must start with redis://, rediss:// or unix://"),
        ("127.0.0.1:6379", "must start with redis://"),
        ("redis://:hunter2@127.0.0.1:99999/0", "Port out of range"),
        ("redis://127.0.0.1:6379/four", "the path must be a database number"),
        ("unix://", "names no socket path"),
    ],
)
def test_a_malformed_redis_url_is_refused_with_what_is_wrong_and_never_its_password(
    url: str, says: str
) -> None:
    message = refusal(REDIS_URL=url)
    assert says in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"REDIS_SENTINELS": "10.0.0.5:26379,10.0.0.6"}, "entry '10.0.0.6' is not host:port"),
        ({"REDIS_SENTINELS": "10.0.0.5:26379,,10.0.0.7:26379"}, "entry '' is not host:port"),
        ({"REDIS_SENTINELS": "10.0.0.5:0"}, "is not host:port"),
        ({"REDIS_SENTINELS": ":26379"}, "is not host:port"),
        ({"REDIS_SENTINELS": "a:1", "REDIS_SENTINEL_MASTER": ""}, "at least 1 character"),
        ({"REDIS_SENTINELS": "a:1", "REDIS_SENTINEL_MASTER": "my master"}, "REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": "a:1", "REDIS_URL": "unix:///run/redis.sock"}, "not a unix socket"),
    ],
)
def test_a_malformed_sentinel_setting_is_refused_with_what_is_wrong(env: dict[str, str], says: str) -> None:
    assert says in refusal(**env)


def test_sentinel_addresses_are_normalised_and_an_empty_value_means_none() -> None:
    assert settings(REDIS_SENTINELS=" a:1 , [::1]:26379 ").redis_sentinels == "a:1,[::1]:26379"
    assert settings(REDIS_SENTINELS="").redis_sentinels is None


def test_without_sentinels_the_client_is_a_bounded_pool_to_the_url() -> None:
    client = settings(
        REDIS_URL="redis://:pw@10.1.2.3:6380/4", REDIS_TIMEOUT="2", REDIS_MAX_CONNECTIONS="9"
    ).redis()
    pool = client.connection_pool
    assert isinstance(pool, BlockingConnectionPool)
    assert not isinstance(pool, SentinelConnectionPool)
    assert (pool.max_connections, pool.timeout) == (9, 2.0)
    kwargs: dict[str, Any] = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("10.1.2.3", 6380, 4, "pw")


def test_with_sentinels_the_client_asks_them_for_the_master_and_keeps_the_urls_database_and_password() -> (
    None
):
    client = settings(
        REDIS_URL="redis://:data-pw@ignored.invalid/4",
        REDIS_SENTINELS="10.0.0.5:26379,10.0.0.6:26380",
        REDIS_SENTINEL_MASTER="platform",
        REDIS_SENTINEL_PASSWORD="sentinel-pw",
        REDIS_TIMEOUT="2",
        REDIS_MAX_CONNECTIONS="9",
    ).redis()
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert isinstance(pool, BlockingConnectionPool)
    assert pool.service_name == "platform"
    assert pool.is_master
    assert (pool.max_connections, pool.timeout) == (9, 2.0)
    kwargs: dict[str, Any] = pool.connection_kwargs
    assert "host" not in kwargs  # the sentinels name it
    assert (kwargs["db"], kwargs["password"], kwargs["socket_timeout"]) == (4, "data-pw", 2.0)
    assert kwargs["decode_responses"] is True
    sentinels = pool.sentinel_manager.sentinels
    addresses = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in sentinels
    ]
    assert addresses == [("10.0.0.5", 26379), ("10.0.0.6", 26380)]
    assert {s.connection_pool.connection_kwargs["password"] for s in sentinels} == {"sentinel-pw"}
