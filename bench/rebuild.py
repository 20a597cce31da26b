"""`python -m bench.rebuild`: how fast the projector rebuilds the read model from the job history.

Writes `--records` history records (jobs of 5 records each: command, started, 2 progress,
succeeded with a result) into a stream of its own, then runs the projector's history reader
(services/projector/history.py, the code the projector runs) on an empty Redis database and
times the replay from the first record to the last: records per second. The stream and the
keys are deleted afterwards. Uses the vhost of BENCH_AMQP_URL and the database of
BENCH_REDIS_URL (databases 0 and 15 are refused).
"""

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import aio_pika
from redis.asyncio import Redis

from bench.report import GENERATED, machine_description
from services.projector.history import HistoryReader
from services.projector.history_store import HistoryStore
from services.projector.projection import Projector
from shared import redis_keys as keys
from shared.identity import PublisherIdentities
from shared.messaging import Publisher
from shared.readmodel import JobStore
from shared.schemas import JobCommand, JobEvent, JobTimeline
from shared.schemas.topology import EVENTS_EXCHANGE, JOBS_EXCHANGE
from tools.docs.markers import write_between

PER_JOB = 5


def _job(tenant: str) -> tuple[JobCommand, list[JobEvent]]:
    command = JobCommand(
        job_id=str(uuid.uuid4()),
        tenant=tenant,
        operation="ner.entities",
        input={"text": "Ada Lovelace wrote to Charles Babbage in London."},
        created_at=datetime.now(UTC),
    )
    timeline = JobTimeline(command)
    entities = [{"text": "Ada Lovelace", "label": "PERSON", "start": 0, "end": 12}]
    return command, [
        timeline.started(),
        timeline.progress(0.5, "half"),
        timeline.progress(0.9, "almost"),
        timeline.succeeded({"entities": entities}),
    ]


async def _fill(channel: aio_pika.abc.AbstractChannel, key: str, jobs: int) -> None:
    exchanges = {
        name: await channel.declare_exchange(name, "topic", durable=True)
        for name in (JOBS_EXCHANGE, EVENTS_EXCHANGE)
    }
    tenants = [f"bench-{i}" for i in range(10)]
    for start in range(0, jobs, 200):
        publishes = []
        for i in range(start, min(start + 200, jobs)):
            command, events = _job(tenants[i % len(tenants)])
            publishes.append(
                exchanges[JOBS_EXCHANGE].publish(
                    aio_pika.Message(command.model_dump_json().encode(), user_id="guest", delivery_mode=2),
                    routing_key=key,
                )
            )
            publishes += [
                exchanges[EVENTS_EXCHANGE].publish(
                    aio_pika.Message(e.model_dump_json().encode(), user_id="guest", delivery_mode=2),
                    routing_key=key,
                )
                for e in events
            ]
        await asyncio.gather(*publishes)  # confirmed


async def run(amqp_url: str, redis_url: str, records: int, prefetch: int, batch: int) -> dict[str, float]:
    if redis_url.rstrip("/").endswith(("/0", "/15")) or redis_url.rstrip("/").count("/") < 3:
        raise SystemExit(f"refusing the Redis database of {redis_url}: give BENCH_REDIS_URL one of its own")
    jobs = records // PER_JOB
    name, key = f"bench.history.{uuid.uuid4().hex[:8]}", f"bench-history.{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(amqp_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    channel = await connection.channel()
    stream = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "stream"})
    for exchange in (JOBS_EXCHANGE, EVENTS_EXCHANGE):
        await stream.bind(exchange, routing_key=key)
    task = None
    try:
        began = time.perf_counter()
        await _fill(channel, key, jobs)
        filled = time.perf_counter() - began
        last = jobs * PER_JOB - 1
        await redis.flushdb()
        store = HistoryStore(JobStore(redis, finished_ttl=7 * 24 * 3600), 7 * 24 * 3600)
        publisher = cast(Publisher, type("P", (), {"user_id": "projector"})())
        projector = Projector(store, publisher, max_delay=1.0, identities=PublisherIdentities(["guest"], {}))
        reader = HistoryReader(
            amqp_url,
            projector,
            store,
            prefetch=prefetch,
            check_interval=5,
            max_delay=1.0,
            max_batch=batch,
            stream=name,
        )
        began = time.perf_counter()
        task = asyncio.create_task(reader.run())
        while reader.applied is None or reader.applied < last:
            await asyncio.sleep(0.05)
            if task.done():
                task.result()
        seconds = time.perf_counter() - began
        jobs_found = sum([await redis.zcard(keys.tenant_index_key(f"bench-{i}")) for i in range(10)])
        assert jobs_found == jobs, f"{jobs_found} jobs rebuilt of {jobs}"
        used = int((await redis.info("memory"))["used_memory"])
        return {
            "records": last + 1,
            "jobs": jobs,
            "seconds": seconds,
            "rate": (last + 1) / seconds,
            "fill_seconds": filled,
            "redis_mb": used / 1e6,
        }
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await channel.queue_delete(name)
        await redis.flushdb()
        await redis.aclose()
        await connection.close()


def render(result: dict[str, float], command: str) -> str:
    return "\n".join(
        [
            f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `{command}`",
            "",
            *machine_description(),
            f"- load averages at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            "",
            "| records | jobs | replay | records/s | writing them (confirmed) | Redis after |",
            "|---|---|---|---|---|---|",
            f"| {result['records']:,.0f} | {result['jobs']:,.0f} | {result['seconds']:.1f} s "
            f"| **{result['rate']:,.0f}** | {result['fill_seconds']:.1f} s | {result['redis_mb']:.0f} MB |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--prefetch", type=int, default=512, help="PROJECTOR_PREFETCH")
    parser.add_argument("--batch", type=int, default=256, help="records per Redis round trip")
    parser.add_argument("--docs", type=Path, help="write the result into this page's generated section")
    args = parser.parse_args()
    amqp_url = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/jobs-bench")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
    result = asyncio.run(run(amqp_url, redis_url, args.records, args.prefetch, args.batch))
    given = f"--records {args.records} --prefetch {args.prefetch} --batch {args.batch}"
    text = render(result, f"make bench-rebuild BENCH_REBUILD_ARGS='{given}'")
    print(text)
    if args.docs:
        write_between(args.docs, GENERATED, text)


if __name__ == "__main__":
    main()
