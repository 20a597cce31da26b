"""The update hub's fan-out (services/api/streaming.py): in memory, no Redis."""

from typing import cast

from redis.asyncio import Redis

from services.api.streaming import UpdateHub
from shared.redis_keys import parse_update, update_notice


def test_a_notice_names_tenant_and_job_even_when_the_id_has_a_space() -> None:
    assert parse_update(update_notice("acme", "job-1")) == ("acme", "job-1")
    assert parse_update(update_notice("acme", "odd id")) == ("acme", "odd id")


def test_a_tenants_feed_sees_only_its_own_jobs_and_job_watchers_only_theirs() -> None:
    hub = UpdateHub(cast(Redis, None))
    with hub.watch_tenant("acme") as acme, hub.watch_tenant("globex") as globex, hub.watch("j2") as j2:
        hub._notify(update_notice("acme", "j1"))
        hub._notify(update_notice("globex", "j2"))
        hub._notify(update_notice("acme", "j3"))
        assert acme.changed == {"j1", "j3"}
        assert globex.changed == {"j2"}
        assert j2.is_set()
    assert not hub._feeds  # closed feeds leave nothing behind
