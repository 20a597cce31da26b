"""The update hub's fan-out and the streams' reads (services/api/streaming.py): in memory, no Redis."""

import contextlib
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.api.streaming import UpdateHub, job_events, tenant_updates
from shared.readmodel import JobStore
from shared.redis_keys import parse_update, update_notice
from shared.schemas import JobCommand, JobEvent, JobStatus, JobTimeline, JobView, ProgressView
from shared.schemas.streams import JobSince, StreamItem


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


Views = list[JobView]
JOB = "0f8fad5b-d9cb-469f-a165-70867728950e"


class LogStore:
    """What the streams read (`since`, `list`, `views`) over an in-memory job log; `outage`
    reads fail as Redis does while its master moves."""

    def __init__(self, job_id: str, *, seqs: list[int]) -> None:
        self.job_id = job_id
        self.command = JobCommand(
            job_id=job_id, tenant="acme", operation="ner.entities", input={}, created_at=datetime.now(UTC)
        )
        self.log = list(seqs)
        self.terminal_at: int | None = None
        self.positions: list[int] = []
        self.outage = 0

    def view(self, seq: int, status: JobStatus = JobStatus.running) -> JobView:
        return JobView(
            id=self.job_id,
            operation="ner.entities",
            status=status,
            progress=ProgressView(fraction=0.0, message=""),
            attempts=1,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            seq=seq,
        )

    def _available(self) -> None:
        if self.outage:
            self.outage -= 1
            raise RedisConnectionError("Error 111 connecting: Connection refused.")

    async def since(self, tenant: str, job_id: str, after: int | None, position: int = 0) -> JobSince:
        self._available()
        self.positions.append(position)
        last = self.log[-1]
        done = JobStatus.succeeded if last == self.terminal_at else JobStatus.running
        events: list[JobEvent] = []
        for seq in self.log[position:]:
            if after is None or seq > after:
                timeline = JobTimeline(self.command, since="started")
                event = timeline.succeeded({}) if seq == self.terminal_at else timeline.progress(0.5)
                events.append(event.model_copy(update={"seq": seq}))
        return JobSince(self.view(last, done), events, len(self.log))

    async def list(self, tenant: str, *, limit: int) -> tuple[list[JobView], None]:
        self._available()
        return [self.view(self.log[-1])], None

    async def views(self, tenant: str, job_ids: Sequence[str]) -> Views:
        self._available()
        return [self.view(self.log[-1]) for j in job_ids if j == self.job_id]


async def test_after_a_new_subscription_a_job_stream_reads_its_log_from_the_start() -> None:
    """A promoted replica may lack the old master's last writes: the log went back in time
    and new events take the lost ones' places, before the position the stream had reached."""
    hub = UpdateHub(cast(Redis, None))
    store = LogStore(JOB, seqs=[1, 2, 3])
    items = job_events(cast(JobStore, store), hub, "acme", JOB, after=None, keepalive=0.05)
    assert (await anext(items)) is not None  # the snapshot, at 3
    store.log = [1, 2, 4]  # 3 lost with the old master; 4 applied on the new one
    hub._resubscribed()
    store.log.append(5)
    store.terminal_at = 5
    seen = [item.id async for item in items if item is not None]
    assert seen == [4, 5]
    assert store.positions[-1] == 0


async def test_a_job_stream_waits_out_an_outage_with_keep_alives() -> None:
    hub = UpdateHub(cast(Redis, None))
    store = LogStore(JOB, seqs=[1, 2])
    items = job_events(cast(JobStore, store), hub, "acme", JOB, after=None, keepalive=0.01)
    assert (await anext(items)) is not None
    store.outage = 3
    store.log.append(3)
    store.terminal_at = 3
    seen = [item for item in [x async for x in items]]
    assert seen[:3] == [None, None, None]  # one keep-alive per failed read
    assert [item.id for item in seen if item is not None] == [3]


async def test_a_tenant_feed_sends_the_newest_jobs_again_after_a_new_subscription() -> None:
    hub = UpdateHub(cast(Redis, None))
    store = LogStore(JOB, seqs=[1, 2])
    updates = tenant_updates(cast(JobStore, store), hub, "acme", keepalive=0.01)
    async with contextlib.aclosing(cast(AsyncGenerator[StreamItem | None, None], updates)) as feed:
        assert await anext(feed) is None  # nothing changed: a keep-alive
        store.outage = 1
        hub._resubscribed()  # a notice for the job may have been published while nobody listened
        assert await anext(feed) is None  # the read failed: a keep-alive, and it is tried again
        item = await anext(feed)
        assert item is not None
        assert (item.event, item.id) == ("job", 2)
