"""`make bench`: this system and the Celery baseline, one after the other, under the same load.

usage: python -m bench.run [--jobs N] [--concurrency C] [--scale 1000,10000] [--no-baseline]
                           [--no-drain] [--ner-workers W] [--profile DIR] [--docs docs/benchmarks.md]

Runs, in order: the compute ceiling (bench/ceiling.py in its own process: docs/s and the
model's own CPU per document); this system (bench/loadgen.py against it with CPU per job of
every process, then Redis memory per finished job, then the backlog run of bench/drain.py on
the same stack, then the scale runs); the Celery baseline (the same loadgen and backlog run,
the same N and concurrency). Prints one table and, with --docs, rewrites the generated part of
that file (machine, command, results; notes below stay).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bench.drain import measure_drain
from bench.profiling import Profiler
from bench.readmodel_stats import read_model_stats
from bench.report import GENERATED, Results, render_markdown, render_table
from bench.stacks import ROOT, CeleryStack, JobsStack, cpu_seconds, peak_rss_mb, shared_server_cpu
from tools.docs.markers import write_between

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/jobs-bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"

T = TypeVar("T")


def load_average() -> float:
    return os.getloadavg()[0]


def loadgen(stack: JobsStack | CeleryStack, n: int, concurrency: int) -> dict[str, Any]:
    headers = [f"{k}={v}" for k, v in stack.headers.items()]
    argv = [sys.executable, str(ROOT / "bench" / "loadgen.py"), stack.base_url, stack.submit_path]
    argv += [stack.status_template, str(n), str(concurrency), *headers]
    load = load_average()
    # CPU seconds per process during the run: unlike jobs/s, hardly moved by other people's
    # work on the shared cores (RabbitMQ and Redis are shared: theirs include others' load).
    before = {p.name: cpu_seconds(p.pid) for p in stack.processes} | shared_server_cpu()
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=400, check=False)
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = {p.name: cpu_seconds(p.pid) for p in stack.processes} | shared_server_cpu()
    if done.returncode != 0:
        raise LoadgenFailed(_root_cause(done.stderr))
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_before"] = round(load, 2)
    client = client_after.ru_utime + client_after.ru_stime - client_before.ru_utime - client_before.ru_stime
    result["cpu_ms_per_job"] = {name: round(1000 * (after[name] - before[name]) / n, 2) for name in before}
    result["cpu_ms_per_job"]["loadgen"] = round(1000 * client / n, 2)
    print(f"  {type(stack).__name__} n={n}: {result}", flush=True)
    return result


class LoadgenFailed(RuntimeError):
    pass


def _root_cause(stderr: str) -> str:
    """The first exception of a chained traceback and the last one (it is usually the
    first that says what happened, e.g. the OSError under an httpx.ReadError)."""
    blocks = stderr.strip().split(
        "\n\nThe above exception was the direct cause of the following exception:\n\n"
    )
    first, last = blocks[0].strip().splitlines(), blocks[-1].strip().splitlines()
    return "\n".join([*first[-8:], "...", *last[-2:]] if len(blocks) > 1 else last[-8:])


def twice(name: str, measure: Callable[[], T]) -> T:
    """Run `measure` (a whole stack run); once more on a fresh stack if the load client
    failed. Under load, uvicorn's default 5 s keep-alive (the baseline's API runs with it)
    races httpx's own 5 s pool expiry: the server closes a connection just as loadgen reuses
    it (httpx.ReadError). This system's API keeps idle connections 75 s
    (`API_HTTP_IDLE_TIMEOUT`). The rerun is printed."""
    try:
        return measure()
    except LoadgenFailed as exc:
        print(f"  {name}: loadgen failed, rerunning once on a fresh stack:\n{exc}", flush=True)
        return measure()


def ceiling(n: int) -> dict[str, Any]:
    load = load_average()
    argv = [sys.executable, "-m", "bench.ceiling", str(n)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_before"] = round(load, 2)
    print(f"  ceiling: {result}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--scale", default="", help="job counts of the flatness runs, e.g. 1000,10000")
    parser.add_argument("--ner-workers", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--no-drain", action="store_true", help="skip the backlog runs (drain jobs/s, interactive submits)"
    )
    parser.add_argument("--profile", type=Path, help="py-spy this system's processes into this folder")
    parser.add_argument("--docs", type=Path, help="rewrite this Markdown file with the results")
    parser.add_argument("--amqp-url", default=os.environ.get("BENCH_AMQP_URL", DEFAULT_AMQP))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    print(f"service logs in {logs}", flush=True)
    results = Results(jobs=args.jobs, concurrency=args.concurrency, ner_workers=args.ner_workers)
    results.ceiling = ceiling(args.jobs)
    stack_args = {"amqp_url": args.amqp_url, "redis_url": args.redis_url, "ner_workers": args.ner_workers}

    def this_system() -> None:
        with JobsStack(logs, **stack_args) as jobs:
            profiler = Profiler(args.profile) if args.profile else None
            for process in jobs.processes if profiler else ():
                profiler.attach(process.name, process.pid)  # type: ignore[union-attr]
            results.jobs_run = loadgen(jobs, args.jobs, args.concurrency)
            if profiler:
                profiler.stop()
            results.memory = read_model_stats(args.redis_url)
            results.api_peak_rss_mb = peak_rss_mb(jobs.api.pid)
            if not args.no_drain:
                results.jobs_drain = measure_drain(jobs, args.jobs, args.concurrency)

    def scale_run(n: int) -> dict[str, Any]:
        with JobsStack(logs, **stack_args) as jobs:
            run = loadgen(jobs, n, args.concurrency)
            run["server_jobs_per_s"] = round(read_model_stats(args.redis_url, sample=1).server_jobs_per_s, 1)
            return run

    def baseline() -> dict[str, Any]:
        with CeleryStack(logs) as celery:
            run = loadgen(celery, args.jobs, args.concurrency)
            if not args.no_drain:
                results.baseline_drain = measure_drain(celery, args.jobs, args.concurrency)
            return run

    twice("this system", this_system)
    for n in filter(None, (int(s) for s in args.scale.split(",") if s.strip())):
        results.scale.append(twice(f"this system, {n} jobs", lambda n=n: scale_run(n)))  # type: ignore[misc]
    if not args.no_baseline:
        results.baseline_run = twice("Celery baseline", baseline)
    results.wall_seconds = time.monotonic() - started
    print()
    print(render_table(results))
    if args.docs:
        given = " ".join(a for a in sys.argv[1:] if a != "--docs" and a != str(args.docs))
        write_between(args.docs, GENERATED, render_markdown(results, given))
        print(f"\nwrote {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
