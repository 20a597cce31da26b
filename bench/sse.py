"""`make bench-sse`: many concurrent Server-Sent Event streams on one API process while jobs run.

usage: python -m bench.sse [--streams 1000] [--chunks 5]

Submits one `ner.entities` job per stream while no NER worker runs (so every job is still
queued), opens one SSE stream per job and waits for every snapshot, then starts the NER
worker: each job then emits `started`, a `progress` per chunk and `succeeded`. The delay of
an event is its receipt time minus its `at` (set by the worker just before publishing it;
same machine, same clock), so it covers the broker, the projector, Redis, the update
channel, the API and the client. Also reports the API process's peak memory (VmHWM) and the
most Redis connections it held at once (sampled every 0.2 s).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import aio_pika
import httpx
import uvloop
from redis.asyncio import Redis

from bench.report import GENERATED, machine_description
from bench.run import DEFAULT_AMQP, DEFAULT_REDIS
from bench.stacks import JobsStack, peak_rss_mb
from bench.texts import load_texts
from shared import redis_keys
from shared.schemas.lifecycle import TERMINAL_STATES
from shared.schemas.topology import EVENTS_EXCHANGE
from tools.docs.markers import write_between


def redis_connections(pid: int, port: int) -> int:
    """Established TCP connections of process `pid` to `port` (from /proc, no tools needed)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


DEFERRED_STARTED = """`started` events are not in the delays: a worker publishes an attempt's
`started` only once it has run `NER_STARTED_EVENT_AFTER` seconds or before its first `progress`
(docs/architecture.md), with `at` = when it started, so receipt - `at` is not a delivery delay."""


class Stream:
    """One SSE client on a raw connection: the cheapest client, so that 1,000 of them in one
    process measure the server rather than the client library."""

    def __init__(self, host: str, port: int, path: str, key: str) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        self.host, self.port = host, port
        self.snapshot = asyncio.Event()
        self.delays: list[float] = []
        self.done = False

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(self.request)
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream answered {status!r}")
        event = ""
        try:
            while not self.done:
                line = await reader.readline()
                if not line:
                    break
                text = line.decode().rstrip("\r\n")
                if text.startswith("event: "):
                    event = text[7:]
                elif text.startswith("data: "):
                    self._on_event(event, text[6:])
        finally:
            writer.close()

    def _on_event(self, event: str, data: str) -> None:
        if event == "snapshot":
            self.snapshot.set()
            return
        if event != "started":  # see DEFERRED_STARTED
            at = datetime.fromisoformat(json.loads(data)["at"]).timestamp()
            self.delays.append(time.time() - at)
        if event in TERMINAL_STATES:
            self.done = True


class HopProbes:
    """Where the delay builds up: the same `at` stamps seen at two points on the way,
    (1) by a consumer of its own on `job-events` (a throwaway queue: the worker's publish and
    the broker's routing) and (2) when the projector's write announces the job on the update
    channel (adds the projector's queue and its Redis write). The streams' own delays add
    the API's reading and sending."""

    def __init__(self, amqp_url: str, redis_url: str) -> None:
        self.amqp_url, self.redis_url = amqp_url, redis_url
        self.at_broker: list[float] = []
        self.in_redis: list[float] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        ready = [asyncio.Event(), asyncio.Event()]
        self._tasks = [
            asyncio.create_task(self._broker(ready[0])),
            asyncio.create_task(self._redis(ready[1])),
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)

    async def stop(self) -> None:
        """Bounded: one run hung here, closing the probe's broker connection while events kept
        arriving for its auto-ack consumer (never reproduced); a probe's teardown must not hold
        the measurement hostage."""
        for task in self._tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self._tasks, timeout=5)
        if stuck:
            print(f"warning: {len(stuck)} hop probe(s) did not stop within 5 s; left behind", file=sys.stderr)

    async def _broker(self, ready: asyncio.Event) -> None:
        connection = await aio_pika.connect(self.amqp_url)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue("", exclusive=True)
            await queue.bind(EVENTS_EXCHANGE, "#")
            ready.set()
            async with queue.iterator(no_ack=True) as messages:
                async for message in messages:
                    event = json.loads(message.body)
                    if event["type"] != "started":  # see DEFERRED_STARTED
                        self.at_broker.append(time.time() - _stamp(event["at"]))
        finally:
            await connection.close()

    async def _redis(self, ready: asyncio.Event) -> None:
        redis = Redis.from_url(self.redis_url, decode_responses=True)
        try:
            async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(redis_keys.UPDATES_CHANNEL)
                ready.set()
                async for message in pubsub.listen():
                    seen = time.time()
                    _, job_id = redis_keys.parse_update(message["data"])
                    last = cast(str | None, await redis.lindex(redis_keys.log_key(job_id), -1))
                    entry = json.loads(last.split(" ", 1)[1]) if last else None
                    if entry is not None and entry.get("type") != "started":  # see DEFERRED_STARTED
                        self.in_redis.append(seen - _stamp(entry["at"]))
        finally:
            await redis.aclose()


def _stamp(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


def _percentiles(delays: list[float]) -> dict[str, float]:
    ordered = sorted(delays)

    def pct(p: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0

    return {"p50": pct(0.5), "p99": pct(0.99)}


async def submit_jobs(stack: JobsStack, n: int, chunks: int) -> list[str]:
    texts = load_texts(n * chunks)
    sem = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=stack.base_url, headers=stack.headers, timeout=30) as client:

        async def submit(i: int) -> str:
            text = " ".join(texts[i * chunks : (i + 1) * chunks])
            async with sem:
                reply = await client.post(
                    "/v1/jobs", json={"operation": "ner.entities", "input": {"text": text}}
                )
            reply.raise_for_status()
            return str(reply.json()["id"])

        return await asyncio.gather(*(submit(i) for i in range(n)))


async def measure(stack: JobsStack, streams: int, chunks: int, within: float) -> dict[str, Any]:
    ids = await submit_jobs(stack, streams, chunks)
    url = urlparse(stack.base_url)
    key = stack.headers["Authorization"].split()[1]
    clients = [Stream(url.hostname or "127.0.0.1", url.port or 80, f"/v1/jobs/{i}/events", key) for i in ids]
    tasks = []
    for client in clients:  # open them a few at a time, as browsers arriving would
        tasks.append(asyncio.create_task(client.run()))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*(c.snapshot.wait() for c in clients)), 60)
    redis_port = urlparse(stack.redis_url).port or 6379
    most_connections = redis_connections(stack.api.pid, redis_port)
    load = os.getloadavg()[0]
    probes = HopProbes(stack.amqp_url, stack.redis_url)
    await probes.start()
    started = time.monotonic()
    stack.add_ner_worker()
    pending = set(tasks)
    while pending and time.monotonic() - started < within:
        _, pending = await asyncio.wait(pending, timeout=0.2)
        most_connections = max(most_connections, redis_connections(stack.api.pid, redis_port))
    for task in pending:
        task.cancel()
    await probes.stop()
    delays = sorted(d for c in clients for d in c.delays)
    failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception()]

    def pct(p: float) -> float:
        return round(1000 * delays[min(len(delays) - 1, int(p * len(delays)))], 1) if delays else 0.0

    return {
        "streams": streams,
        "completed": sum(1 for c in clients if c.done),
        "errors": len(failed),
        "events": len(delays),
        "delay_p50_ms": pct(0.5),
        "delay_p99_ms": pct(0.99),
        "delay_max_ms": round(1000 * delays[-1], 1) if delays else 0.0,
        "hops_ms": {
            "worker_to_broker": _percentiles(probes.at_broker),
            "to_redis_via_projector": _percentiles(probes.in_redis),
            "to_sse_client": {"p50": pct(0.5), "p99": pct(0.99)},
        },
        "seconds": round(time.monotonic() - started, 1),
        "api_peak_rss_mb": round(peak_rss_mb(stack.api.pid), 1),
        "api_redis_connections_max": most_connections,
        "load_before": round(load, 2),
    }


def _hop(result: dict[str, Any], name: str) -> str:
    hop = result["hops_ms"][name]
    return f"{hop['p50']}/{hop['p99']} ms"


def render_sse_markdown(result: dict[str, Any], summary: str, args: str) -> str:
    return "\n".join(
        [
            "# SSE benchmark",
            "",
            "Down to the end marker this page is generated by `make bench-sse` (`bench/sse.py`); the notes",
            "after it are written by hand. How it measures: [bench/README.md](../bench/README.md).",
            "",
            f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
            "",
            *machine_description(),
            "",
            "```",
            f"make bench-sse BENCH_SSE_ARGS='{args}'" if args else "make bench-sse",
            "```",
            "",
            summary,
            "",
            f"Raw: `{json.dumps(result)}`",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=5, help="chunks per job: a progress event each")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--docs", type=Path, help="rewrite this Markdown file with the result")
    parser.add_argument("--amqp-url", default=os.environ.get("BENCH_AMQP_URL", DEFAULT_AMQP))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-sse-logs-"))
    # Each sentence of the load is under 100 characters: one chunk, one progress event, each.
    extra = {"NER_CHUNK_CHARS": "100"}
    with JobsStack(
        logs, amqp_url=args.amqp_url, redis_url=args.redis_url, ner_workers=0, extra_env=extra
    ) as stack:
        result = uvloop.run(measure(stack, args.streams, args.chunks, args.timeout))
    print(json.dumps(result))
    ok = result["delay_p99_ms"] < 100 and result["api_peak_rss_mb"] < 250
    summary = (
        f"SSE: {result['streams']} streams, {result['events']} events: "
        f"delay p50 {result['delay_p50_ms']} ms, "
        f"p99 {result['delay_p99_ms']} ms (target < 100), API peak {result['api_peak_rss_mb']} MB "
        f"(target < 250), API Redis connections at most {result['api_redis_connections_max']}, "
        f"cumulative delay p50/p99 at the broker {_hop(result, 'worker_to_broker')}, "
        f"in Redis {_hop(result, 'to_redis_via_projector')}, "
        f"load average {result['load_before']}: targets {'met' if ok else 'NOT met'}"
    )
    print(summary)
    if args.docs:
        given = " ".join(a for a in sys.argv[1:] if a != "--docs" and a != str(args.docs))
        write_between(args.docs, GENERATED, render_sse_markdown(result, summary, given))
        print(f"wrote {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
