"""The backlog run: how fast a system drains 2,000 waiting jobs, and how long one interactive
client waits for its submissions meanwhile.

The stack's workers are paused (SIGSTOP to their process groups, model processes included)
while `loadgen.py` submits the N jobs; once the broker holds them all (the backlog stops
growing), the workers are resumed (SIGCONT) and one interactive client starts submitting one
job at a time (each after the previous one's answer and a pause), until loadgen has seen every
one of its N jobs terminal. Drain jobs/s = N / (resume -> loadgen's last job seen terminal;
loadgen looks every 0.25 s). The interactive jobs queue behind the backlog: they cost the
drain their submissions only.
"""

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import httpx
from redis.asyncio import Redis

from bench.stacks import ROOT, CeleryStack, JobsStack
from shared.schemas.topology import NER_QUEUE

__all__ = ["measure_drain"]

INTERACTIVE_PAUSE = 0.1
"""Seconds between one interactive submission's answer and the next submission."""


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


Counter = tuple[Callable[[], Awaitable[int]], Callable[[], Awaitable[None]]]
"""How many jobs wait in the broker, and how to close what counting them opened."""


async def _jobs_backlog(stack: JobsStack) -> Counter:
    """Ready messages in this system's NER queue (a passive declare: nothing is changed)."""
    connection = await aio_pika.connect(stack.amqp_url)
    channel = await connection.channel()

    async def count() -> int:
        queue = await channel.declare_queue(NER_QUEUE.name, passive=True)
        return int(queue.declaration_result.message_count or 0)

    return count, connection.close


async def _celery_backlog() -> Counter:
    """Messages waiting in the baseline's Redis broker list (database 1, list `celery`)."""
    redis = Redis.from_url("redis://127.0.0.1:6379/1")

    async def count() -> int:
        return int(await redis.llen("celery"))

    return count, redis.aclose


async def _wait_for_backlog(count: Callable[[], Awaitable[int]], n: int, loadgen: Any) -> None:
    """Until at least N - 100 jobs wait (the paused workers hold a prefetch's worth) and the
    number has not moved for half a second: loadgen has submitted everything."""
    last, still_since = -1, time.monotonic()
    while True:
        if loadgen.returncode is not None:
            raise RuntimeError(f"loadgen ended before the backlog was complete: {loadgen.returncode}")
        now, current = time.monotonic(), await count()
        if current != last:
            last, still_since = current, now
        elif current >= n - 100 and now - still_since >= 0.5:
            return
        await asyncio.sleep(0.1)


async def _interactive(stack: JobsStack | CeleryStack, stop: asyncio.Event) -> list[float]:
    """One client submitting one job at a time; the latency of each, in milliseconds."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=stack.base_url, headers=stack.headers, timeout=30) as client:
        i = 0
        while not stop.is_set():
            body = {
                "operation": "ner.entities",
                "input": {"text": f"Interactive {i}: Grace Hopper visited Toyota in Oslo."},
            }
            started = time.perf_counter()
            reply = await client.post(stack.submit_path, json=body)
            latencies.append(1000 * (time.perf_counter() - started))
            reply.raise_for_status()
            i += 1
            await asyncio.sleep(INTERACTIVE_PAUSE)
    return latencies


def _signal_workers(stack: JobsStack | CeleryStack, sig: signal.Signals) -> None:
    for process in stack.processes:
        if process.name.startswith(("ner-", "celery-worker")):
            os.killpg(process.pid, sig)  # the whole group: the model processes too


async def _drain(stack: JobsStack | CeleryStack, n: int, concurrency: int) -> dict[str, Any]:
    backlog, close = await (_jobs_backlog(stack) if isinstance(stack, JobsStack) else _celery_backlog())
    headers = [f"{k}={v}" for k, v in stack.headers.items()]
    argv = [sys.executable, str(ROOT / "bench" / "loadgen.py"), stack.base_url, stack.submit_path]
    argv += [stack.status_template, str(n), str(concurrency), *headers]
    _signal_workers(stack, signal.SIGSTOP)
    resumed = False
    loadgen = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        await asyncio.wait_for(_wait_for_backlog(backlog, n, loadgen), timeout=200)
        waiting = await backlog()
        stop = asyncio.Event()
        _signal_workers(stack, signal.SIGCONT)
        resumed, t_resume = True, time.perf_counter()
        interactive = asyncio.create_task(_interactive(stack, stop))
        out, err = await asyncio.wait_for(loadgen.communicate(), timeout=300)
        t_end = time.perf_counter()
        stop.set()
        latencies = await interactive
    finally:
        if not resumed:
            _signal_workers(stack, signal.SIGCONT)
        if loadgen.returncode is None:
            loadgen.kill()  # our own child, by its handle
            await loadgen.wait()
        await close()
    if loadgen.returncode != 0:
        raise RuntimeError(f"loadgen failed in the backlog run:\n{err.decode()[-2000:]}")
    line: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "n": n,
        "ok": line["ok"],
        "unfinished": line["unfinished"],
        "backlog_at_resume": waiting,
        "drain_s": round(t_end - t_resume, 2),
        "drain_jobs_per_s": round(n / (t_end - t_resume), 1),
        "interactive_submits": len(latencies),
        "interactive_p50_ms": round(_percentile(latencies, 0.5), 2),
        "interactive_p99_ms": round(_percentile(latencies, 0.99), 2),
        "interactive_max_ms": round(max(latencies, default=0.0), 2),
    }


def measure_drain(stack: JobsStack | CeleryStack, n: int, concurrency: int) -> dict[str, Any]:
    result = asyncio.run(_drain(stack, n, concurrency))
    print(f"  {type(stack).__name__} backlog of {n}: {result}", flush=True)
    return result
