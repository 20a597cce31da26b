"""The read model's compare-and-set, against the real Redis."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from shared import redis_keys as keys
from shared.readmodel import JobStore
from shared.schemas import (
    SEQ_PER_ATTEMPT,
    Failed,
    JobError,
    JobEvent,
    JobStatus,
    Progress,
    Queued,
    Started,
    Succeeded,
)

pytestmark = pytest.mark.integration
# recent: a finished job's TTL counts from its terminal event's time (shared/fold.py)
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


@pytest.fixture
def store(redis: Redis) -> JobStore:
    return JobStore(redis, finished_ttl=3600)


def ids(tenant: str, job_id: str, seq: int, **extra: object) -> dict[str, object]:
    return {
        "job_id": job_id,
        "tenant": tenant,
        "operation": "ner.entities",
        "seq": seq,
        "at": T0 + timedelta(seconds=seq % 1000),
        "job_created_at": T0,
        **extra,
    }


async def test_events_in_order_build_the_view(store: JobStore, tenant: str) -> None:
    job = str(uuid.uuid4())
    base = SEQ_PER_ATTEMPT
    assert await store.apply(Queued(**ids(tenant, job, base))) == 1
    assert await store.apply(Started(**ids(tenant, job, base + 1))) == 1
    assert await store.apply(Progress(**ids(tenant, job, base + 2), fraction=0.5, message="half")) == 1
    view = await store.get(tenant, job)
    assert view is not None
    assert (view.status, view.progress.fraction, view.progress.message) == (JobStatus.running, 0.5, "half")
    assert view.attempts == 1
    assert await store.apply(Succeeded(**ids(tenant, job, base + 3), result={"entities": []})) == 1
    view = await store.get(tenant, job)
    assert view is not None
    assert view.status == JobStatus.succeeded
    assert view.result == {"entities": []}
    assert view.finished_at is not None
    assert view.progress.fraction == 1.0


async def test_duplicates_and_stale_events_change_nothing(store: JobStore, tenant: str) -> None:
    job = str(uuid.uuid4())
    base = SEQ_PER_ATTEMPT
    await store.apply(Started(**ids(tenant, job, base + 1)))
    await store.apply(Progress(**ids(tenant, job, base + 5), fraction=0.8, message="late"))
    assert await store.apply(Progress(**ids(tenant, job, base + 5), fraction=0.8, message="late")) == 0
    assert await store.apply(Progress(**ids(tenant, job, base + 3), fraction=0.3, message="old")) == 0
    assert await store.apply(Queued(**ids(tenant, job, base))) == 0
    view = await store.get(tenant, job)
    assert view is not None
    assert (view.status, view.progress.fraction, view.seq) == (JobStatus.running, 0.8, base + 5)
    read = await store.since(tenant, job, None)
    assert read is not None
    assert [event.seq for event in read.events] == [base + 1, base + 5]


async def test_terminal_states_absorb_and_are_never_dropped(store: JobStore, tenant: str) -> None:
    job = str(uuid.uuid4())
    base = SEQ_PER_ATTEMPT
    await store.apply(Progress(**ids(tenant, job, base + 9), fraction=0.9, message=""))
    # A redelivered run failed earlier in its sequence than the first run had got:
    # the failure still lands, renumbered after the last applied event.
    failed = Failed(**ids(tenant, job, base + 2), error=JobError(code="boom", message="no"))
    assert await store.apply(failed) == 1
    view = await store.get(tenant, job)
    assert view is not None
    assert (view.status, view.seq) == (JobStatus.failed, base + 10)
    assert await store.apply(Succeeded(**ids(tenant, job, base + 50), result={})) == 0
    assert await store.apply(Progress(**ids(tenant, job, base + 60), fraction=1, message="")) == 0
    view = await store.get(tenant, job)
    assert view is not None
    assert view.status == JobStatus.failed
    assert view.error is not None
    assert view.error.code == "boom"


async def test_a_terminal_event_carrying_started_at_stands_for_started(store: JobStore, tenant: str) -> None:
    """A short attempt publishes no `started` (`<PREFIX>_STARTED_EVENT_AFTER`): its `succeeded` or
    `failed` follows `queued` and sets what `started` would have (started_at, attempts)."""
    began = T0 + timedelta(seconds=5)
    for terminal in ("succeeded", "failed"):
        job = str(uuid.uuid4())
        assert await store.apply(Queued(**ids(tenant, job, SEQ_PER_ATTEMPT))) == 1
        envelope = ids(tenant, job, SEQ_PER_ATTEMPT + 1, started_at=began)
        event: JobEvent = (
            Succeeded(**envelope, result={"entities": []})
            if terminal == "succeeded"
            else Failed(**envelope, error=JobError(code="x", message="y"))
        )
        assert await store.apply(event) == 1
        view = await store.get(tenant, job)
        assert view is not None
        assert (view.status, view.attempts, view.started_at) == (terminal, 1, began)
        assert view.finished_at is not None


async def test_a_job_first_seen_through_a_worker_event_gets_a_record(store: JobStore, tenant: str) -> None:
    job = str(uuid.uuid4())
    await store.apply(Started(**ids(tenant, job, SEQ_PER_ATTEMPT + 1)))
    view = await store.get(tenant, job)
    assert view is not None
    assert view.created_at == T0
    page, _ = await store.list(tenant, limit=10)
    assert [v.id for v in page] == [job]


async def test_another_tenants_event_or_read_is_refused(store: JobStore, tenant: str) -> None:
    job = str(uuid.uuid4())
    await store.apply(Started(**ids(tenant, job, SEQ_PER_ATTEMPT + 1)))
    assert (
        await store.apply(
            Failed(**ids("mallory", job, SEQ_PER_ATTEMPT + 2), error={"code": "x", "message": "x"})
        )
        == -1
    )
    assert await store.get("mallory", job) is None
    view = await store.get(tenant, job)
    assert view is not None
    assert view.status == JobStatus.running


async def test_applying_notifies_the_updates_channel(store: JobStore, redis: Redis, tenant: str) -> None:
    job = str(uuid.uuid4())
    async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(keys.UPDATES_CHANNEL)
        await store.apply(Started(**ids(tenant, job, SEQ_PER_ATTEMPT + 1)))
        message = None
        for _ in range(50):
            message = await pubsub.get_message(timeout=0.1)
            if message and message["data"].endswith(job):
                break
        assert message is not None
        # the tenant travels with the id, so a tenant's feed filters without reading the job
        assert message["data"] == f"{tenant} {job}"
        assert keys.parse_update(message["data"]) == (tenant, job)


async def test_finished_jobs_expire(store: JobStore, redis: Redis, tenant: str) -> None:
    job = str(uuid.uuid4())
    await store.apply(Started(**ids(tenant, job, SEQ_PER_ATTEMPT + 1)))
    assert await redis.ttl(keys.job_key(job)) == -1
    await store.apply(Succeeded(**ids(tenant, job, SEQ_PER_ATTEMPT + 2), result={}))
    for key in (keys.job_key(job), keys.log_key(job), keys.result_key(job)):
        assert 0 < await redis.ttl(key) <= 3600, key


async def test_the_log_gives_back_every_event_as_published(store: JobStore, tenant: str) -> None:
    job = str(uuid.uuid4())
    base = SEQ_PER_ATTEMPT
    published: list[JobEvent] = [
        Queued(**ids(tenant, job, base)),
        Started(**ids(tenant, job, base + 1)),
        Progress(**ids(tenant, job, base + 2), fraction=0.5, message="page 1 of 2"),
        Succeeded(**ids(tenant, job, base + 3), result={"entities": ["x" * 500]}),
    ]
    for event in published[:2]:
        await store.apply(event)
    first = await store.since(tenant, job, None)
    assert first is not None
    assert first.job.status == JobStatus.running
    for event in published[2:]:
        await store.apply(event)
    rest = await store.since(tenant, job, base + 1, first.position)
    assert rest is not None
    # typed events, equal to what was published (the result comes back on `succeeded`)
    assert first.events + rest.events == published
    assert rest.position == 4
    assert rest.job.result == {"entities": ["x" * 500]}
    assert await store.since("mallory", job, None) is None


async def test_since_reads_only_what_comes_after(store: JobStore, tenant: str) -> None:
    job = str(uuid.uuid4())
    base = SEQ_PER_ATTEMPT
    for event in (Queued(**ids(tenant, job, base)), Started(**ids(tenant, job, base + 1))):
        await store.apply(event)
    read = await store.since(tenant, job, base)
    assert read is not None
    assert [e.type for e in read.events] == ["started"]
    again = await store.since(tenant, job, base + 1, read.position)
    assert again is not None
    assert (again.events, again.position) == ([], read.position)


async def test_a_finished_job_stays_in_compact_encodings(store: JobStore, redis: Redis, tenant: str) -> None:
    # Memory per job depends on it: a hash or sorted set holding a value over 64 bytes
    # is stored as a table several times the size.
    job = str(uuid.uuid4())
    await store.apply(Queued(**ids(tenant, job, SEQ_PER_ATTEMPT)))
    await store.apply(Started(**ids(tenant, job, SEQ_PER_ATTEMPT + 1)))
    await store.apply(Succeeded(**ids(tenant, job, SEQ_PER_ATTEMPT + 2), result={"text": "y" * 2000}))
    assert await redis.object("encoding", keys.job_key(job)) == "listpack"
    assert await redis.object("encoding", keys.log_key(job)) in ("listpack", "quicklist")
    assert await redis.llen(keys.log_key(job)) == 3


async def test_list_pages_newest_first_with_filters(store: JobStore, redis: Redis, tenant: str) -> None:
    jobs = []
    for i in range(25):
        job = f"{i:02d}-{uuid.uuid4()}"
        created = T0 + timedelta(seconds=i // 2)  # pairs share a millisecond: order must still be exact
        await store.apply(
            Queued(
                job_id=job,
                tenant=tenant,
                operation="ner.entities",
                seq=SEQ_PER_ATTEMPT,
                at=created,
                job_created_at=created,
            )
        )
        if i % 3 == 0:
            await store.apply(Succeeded(**ids(tenant, job, SEQ_PER_ATTEMPT + 1), result={}))
        jobs.append(job)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await store.list(tenant, limit=7, cursor=cursor, batch=4)
        seen += [v.id for v in page]
        if cursor is None:
            break
    expected = sorted(jobs, key=lambda j: (int(j[:2]) // 2, j), reverse=True)
    assert seen == expected
    done, _ = await store.list(tenant, limit=100, status=JobStatus.succeeded)
    assert {v.id for v in done} == {j for i, j in enumerate(jobs) if i % 3 == 0}
    # a job whose record expired disappears from the listing (and from the index)
    await redis.delete(keys.job_key(jobs[-1]))
    page, _ = await store.list(tenant, limit=1)
    assert page[0].id == jobs[-2]


async def test_the_active_count_moves_once_per_job_whatever_the_events(store: JobStore, tenant: str) -> None:
    first, second, failed_at_once = (str(uuid.uuid4()) for _ in range(3))
    base = SEQ_PER_ATTEMPT
    await store.apply(Queued(**ids(tenant, first, base)))
    await store.apply(Queued(**ids(tenant, first, base)))  # duplicate
    await store.apply(Started(**ids(tenant, second, base + 1)))  # created by its first worker event
    assert await store.active_jobs(tenant) == 2
    await store.apply(Started(**ids(tenant, first, base + 1)))
    await store.apply(Progress(**ids(tenant, first, base + 2), fraction=0.5, message="half"))
    assert await store.active_jobs(tenant) == 2
    assert await store.active_jobs(f"{tenant}-other") == 0
    error = {"code": "x", "message": "x"}
    await store.apply(Succeeded(**ids(tenant, first, base + 3), result={}))
    await store.apply(Succeeded(**ids(tenant, first, base + 3), result={}))  # duplicate
    await store.apply(Failed(**ids(tenant, first, base + 9), error=error))  # after the end: absorbed
    assert await store.active_jobs(tenant) == 1
    await store.apply(Failed(**ids(tenant, failed_at_once, base), error=error))  # never active
    assert await store.active_jobs(tenant) == 1
    await store.apply(Failed(**ids(tenant, second, base + 1), error=error))  # stale number, still terminal
    assert await store.active_jobs(tenant) == 0
    await store.apply(Failed(**ids(f"{tenant}-mallory", second, base + 5), error=error))  # refused
    assert await store.active_jobs(f"{tenant}-mallory") == 0


async def test_lists_leave_results_out(store: JobStore, redis: Redis, tenant: str) -> None:
    job, other = str(uuid.uuid4()), str(uuid.uuid4())
    await store.apply(Succeeded(**ids(tenant, job, SEQ_PER_ATTEMPT + 1), result={"text": "big"}))
    await store.apply(Started(**ids("mallory", other, SEQ_PER_ATTEMPT + 1)))
    await redis.delete(keys.result_key(other))  # a missing result key must not matter either
    page, _ = await store.list(tenant, limit=10)
    assert [(v.id, v.status, v.result) for v in page] == [(job, JobStatus.succeeded, None)]
    views = await store.views(tenant, [job, other, "no-such-job"])
    assert [(v.id, v.result) for v in views] == [(job, None)]  # another tenant's job is left out
    one = await store.get(tenant, job)
    assert one is not None
    assert one.result == {"text": "big"}


async def test_the_script_takes_any_text_and_keeps_results_byte_for_byte(
    store: JobStore, redis: Redis, tenant: str
) -> None:
    # One JSON argument: quotes, newlines, unicode and Lua-looking text pass through as they are;
    # the result is stored as given (cjson would round 0.1 + 0.2 and big integers).
    job = str(uuid.uuid4())
    message = 'page "1"\n of 2 — é \\ ]]--'
    await store.apply(Progress(**ids(tenant, job, SEQ_PER_ATTEMPT + 1), fraction=0.25, message=message))
    result = {"x": 0.1 + 0.2, "n": 12345678901234567890, "s": "ü\u0000"}
    await store.apply(Succeeded(**ids(tenant, job, SEQ_PER_ATTEMPT + 2), result=result))
    stored = await redis.get(keys.result_key(job))
    assert stored == '{"x":0.30000000000000004,"n":12345678901234567890,"s":"\\u00fc\\u0000"}'
    read = await store.since(tenant, job, None)
    assert read is not None
    assert read.job.result == result
    assert [getattr(e, "message", None) for e in read.events] == [message, None]
    view = await store.get(tenant, job)
    assert view is not None
    assert view.progress.message == ""  # succeeded clears it
