"""Results by reference, against the real RabbitMQ, Redis and a local file storage: the worker's
context writes a large result once and publishes a reference, the read model folds the
reference, the API serves the same JSON as for an inline result, and a `job_id` text source
follows the reference. The threshold is small here (200 bytes); tests/e2e/test_results_by_reference.py
runs a real NER result over the default one through the services."""

import asyncio
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from fastapi import HTTPException
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis

from services.api.results import job_body, result_body
from services.api.streaming import UpdateHub, job_events
from shared import redis_keys as keys
from shared.fold import REF_MARK
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.results import ResultStore
from shared.schemas import (
    SEQ_PER_ATTEMPT,
    JobCommand,
    JobStatus,
    JobTimeline,
    NerInput,
    OcrPage,
    OcrResult,
    ResultRef,
    Succeeded,
    parse_event,
)
from shared.schemas.topology import EVENTS_EXCHANGE
from shared.sources import TextSource
from shared.storage import LocalStorage
from shared.worker import JobContext, JobFailure
from shared.worker.adapters import PublisherBus, StoredResults
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

THRESHOLD = 200


@pytest.fixture
async def publisher(infra: Infra, amqp: aio_pika.abc.AbstractRobustConnection) -> AsyncIterator[Publisher]:
    publisher = await Publisher.connect(infra.amqp_url, name="results-by-reference")
    yield publisher
    await publisher.close()


@pytest.fixture
async def succeeded_events(
    amqp: aio_pika.abc.AbstractRobustConnection,
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    channel = await amqp.channel()
    queue = await channel.declare_queue(f"test-{uuid.uuid4()}", exclusive=True)
    await queue.bind(EVENTS_EXCHANGE, routing_key="*.*.succeeded")
    yield queue
    await channel.close()


def ocr_command(tenant: str) -> JobCommand:
    return JobCommand(
        job_id=str(uuid.uuid4()),
        tenant=tenant,
        operation="ocr.pdf",
        input={"file_id": "0" * 32},
        created_at=datetime(2026, 1, 1, 12, tzinfo=UTC),
    )


def big_ocr_result(pages: int = 40) -> OcrResult:
    texts = [f"Page {n}: Ada Lovelace wrote to Charles Babbage from London. " * 3 for n in range(pages)]
    return OcrResult(
        pages=[OcrPage(number=n + 1, text=t, method="ocr", confidence=0.93) for n, t in enumerate(texts)],
        text="\f".join(texts),
        engine="test-engine",
    )


async def finish(publisher: Publisher, store: ResultStore, command: JobCommand, result: OcrResult) -> None:
    """What the runner does for a job that succeeded: `JobContext.succeeded` on the real bus."""
    ctx = JobContext(command, PublisherBus(publisher), results=StoredResults(store))
    await ctx.started()
    await ctx.succeeded(result)


async def received(queue: aio_pika.abc.AbstractQueue, job_id: str) -> tuple[bytes, Succeeded]:
    for _ in range(100):
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        event = parse_event(message.body)
        if event.job_id == job_id:
            assert isinstance(event, Succeeded)
            return message.body, event
    raise AssertionError(f"no succeeded event for {job_id}")


async def fold(jobs: JobStore, command: JobCommand, succeeded: Succeeded) -> None:
    """What the projector does with the job's events (its `started` is left out)."""
    assert await jobs.apply(JobTimeline.new(command).queued()) == 1
    assert await jobs.apply(succeeded) == 1


async def body_of(response: StreamingResponse) -> bytes:
    chunks = [c if isinstance(c, bytes) else str(c).encode() async for c in response.body_iterator]
    body = b"".join(chunks)
    assert int(response.headers["content-length"]) == len(body)
    return body


async def test_a_large_result_travels_by_reference_and_is_served_as_an_inline_one(
    publisher: Publisher,
    succeeded_events: aio_pika.abc.AbstractQueue,
    redis: Redis,
    tenant: str,
    tmp_path: Path,
) -> None:
    results = ResultStore(LocalStorage(tmp_path), inline_max_bytes=THRESHOLD)
    inline = ResultStore(LocalStorage(tmp_path / "never"), inline_max_bytes=10_000_000)
    jobs = JobStore(redis, finished_ttl=3600)
    result = big_ocr_result()
    expected = result.model_dump(mode="json")
    by_ref, twin = ocr_command(tenant), ocr_command(tenant)

    await finish(publisher, results, by_ref, result)
    await finish(publisher, inline, twin, result)
    ref_body, ref_event = await received(succeeded_events, by_ref.job_id)
    twin_body, twin_event = await received(succeeded_events, twin.job_id)

    # the event carries a reference, named under the job's tenant, to exactly the result's JSON
    assert (ref_event.schema_version, ref_event.result) == ("2", None)
    ref = ref_event.result_ref
    assert ref is not None
    stored = (tmp_path / ref.key).read_bytes()
    assert (ref.size, ref.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())
    assert json.loads(stored) == expected
    assert ref.key.endswith(f"/{by_ref.job_id}.json")
    assert ref.key.startswith("results/")
    assert len(ref_body) < 700 < len(twin_body)
    assert (twin_event.schema_version, twin_event.result, twin_event.result_ref) == ("1", expected, None)
    assert not (tmp_path / "never").exists()

    # the read model keeps the reference, not the result
    await fold(jobs, by_ref, ref_event)
    await fold(jobs, twin, twin_event)
    kept = str(await redis.get(keys.result_key(by_ref.job_id)))
    assert kept is not None
    assert kept.startswith(REF_MARK)
    assert len(kept) < 300
    view = await jobs.get(tenant, by_ref.job_id)
    assert view is not None
    assert view.status == JobStatus.succeeded
    assert (view.result, view.result_ref) == (None, ref)

    # the API answers the same JSON for both (but the job's own id)
    twin_view = await jobs.get(tenant, twin.job_id)
    assert twin_view is not None
    served = await job_body(view, results)
    assert isinstance(served, StreamingResponse)
    as_served = json.loads(await body_of(served))
    as_inline = json.loads(twin_view.model_dump_json())
    assert as_served["result"] == expected
    ignore = {"id", "created_at", "started_at", "finished_at"}
    assert {k: v for k, v in as_served.items() if k not in ignore} == {
        k: v for k, v in as_inline.items() if k not in ignore
    }
    assert as_served["id"] == by_ref.job_id
    alone = await result_body(view, results)
    assert isinstance(alone, StreamingResponse)
    assert await body_of(alone) == stored
    assert json.loads(await result_body(twin_view, inline)) == expected  # type: ignore[arg-type]


async def test_streams_carry_the_reference_not_the_result(
    publisher: Publisher,
    succeeded_events: aio_pika.abc.AbstractQueue,
    redis: Redis,
    tenant: str,
    tmp_path: Path,
) -> None:
    results = ResultStore(LocalStorage(tmp_path), inline_max_bytes=THRESHOLD)
    jobs = JobStore(redis, finished_ttl=3600)
    command = ocr_command(tenant)
    await finish(publisher, results, command, big_ocr_result())
    _, event = await received(succeeded_events, command.job_id)
    await fold(jobs, command, event)
    hub = UpdateHub(redis)  # not started: a finished job's stream never waits for a change
    snapshots = [i async for i in job_events(jobs, hub, tenant, command.job_id, after=None, keepalive=5)]
    after_queued = job_events(jobs, hub, tenant, command.job_id, after=SEQ_PER_ATTEMPT, keepalive=5)
    events = [i async for i in after_queued]
    [snapshot] = snapshots  # a finished job: its state, nothing to wait for
    assert snapshot is not None
    assert snapshot.event == "snapshot"
    assert snapshot.payload()["result"] is None
    assert snapshot.payload()["result_ref"] == event.result_ref.model_dump(mode="json")  # type: ignore[union-attr]
    [succeeded] = events
    assert succeeded is not None
    last: dict[str, Any] = succeeded.payload()
    assert (last["type"], last["schema_version"], last["result"]) == ("succeeded", "2", None)
    assert last["result_ref"]["size"] == event.result_ref.size  # type: ignore[union-attr]
    assert succeeded.data == event


async def test_a_job_id_source_follows_the_reference_and_refuses_what_it_may_not_read(
    publisher: Publisher,
    succeeded_events: aio_pika.abc.AbstractQueue,
    redis: Redis,
    tenant: str,
    tmp_path: Path,
) -> None:
    results = ResultStore(LocalStorage(tmp_path), inline_max_bytes=THRESHOLD)
    jobs = JobStore(redis, finished_ttl=3600)
    ocr = ocr_command(tenant)
    result = big_ocr_result()
    await finish(publisher, results, ocr, result)
    _, event = await received(succeeded_events, ocr.job_id)
    await fold(jobs, ocr, event)
    source = TextSource(jobs, results=results)

    def ner(job_id: str, of: str = tenant) -> tuple[NerInput, JobCommand]:
        command = JobCommand(
            job_id=str(uuid.uuid4()),
            tenant=of,
            operation="ner.entities",
            input={"job_id": job_id},
            created_at=datetime.now(UTC),
        )
        return NerInput(job_id=job_id), command

    assert await source.text_of(*ner(ocr.job_id)) == result.text
    for job_input, command, code in (
        (*ner(ocr.job_id, of=f"{tenant}-other"), "source_job_not_found"),
        (*ner(str(uuid.uuid4())), "source_job_not_found"),
    ):
        with pytest.raises(JobFailure) as failure:
            await source.text_of(job_input, command)
        assert failure.value.code == code
    assert event.result_ref is not None
    (tmp_path / event.result_ref.key).write_bytes(b'{"text": "tampered"}')
    with pytest.raises(JobFailure) as failure:
        await source.text_of(*ner(ocr.job_id))
    assert failure.value.code == "source_job_result_corrupt"
    (tmp_path / event.result_ref.key).unlink()
    with pytest.raises(JobFailure) as failure:
        await source.text_of(*ner(ocr.job_id))
    assert failure.value.code == "source_job_result_missing"
    view = await jobs.get(tenant, ocr.job_id)
    assert view is not None
    with pytest.raises(HTTPException) as gone:
        await job_body(view, results)
    assert gone.value.status_code == 410


async def test_the_sweep_deletes_only_results_older_than_the_finished_job_ttl(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    results = ResultStore(storage, inline_max_bytes=THRESHOLD)
    old, fresh = ocr_command("acme"), ocr_command("acme")
    old_ref, fresh_ref = [await results.keep(c, big_ocr_result(2)) for c in (old, fresh)]
    assert isinstance(old_ref, ResultRef)
    assert isinstance(fresh_ref, ResultRef)
    upload = tmp_path / "files" / "x" / "content"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"an upload, not a result")
    week_ago = time.time() - 8 * 24 * 3600
    for path in (tmp_path / old_ref.key, upload):
        os.utime(path, (week_ago, week_ago))
    assert await results.sweep(timedelta(days=7)) == 1
    assert not (tmp_path / old_ref.key).exists()
    assert (tmp_path / fresh_ref.key).exists()
    assert upload.exists()
