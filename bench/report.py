"""The benchmark's one table, and docs/benchmarks.md."""

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.readmodel_stats import ReadModelStats

__all__ = ["GENERATED", "Cost", "Results", "costs", "machine_description", "render_markdown", "render_table"]

GENERATED = "generated"
"""The markers' name in docs/benchmarks*.md: the results go between them, the notes stay below."""


@dataclass
class Results:
    jobs: int
    concurrency: int
    ner_workers: int
    ceiling: dict[str, Any] = field(default_factory=dict)
    jobs_run: dict[str, Any] = field(default_factory=dict)
    baseline_run: dict[str, Any] | None = None
    jobs_drain: dict[str, Any] = field(default_factory=dict)
    baseline_drain: dict[str, Any] | None = None
    memory: ReadModelStats | None = None
    api_peak_rss_mb: float = 0.0
    scale: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0


Row = tuple[str, str, str, str, str]

# Process groups of each system, as one row each: (row, this system's names, the baseline's).
_PROCESS_ROWS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("API", ("api",), ("celery-api",)),
    ("worker(s) incl. model", ("ner-",), ("celery-worker",)),
    ("projector", ("projector",), ()),
    ("RabbitMQ (shared server)", ("rabbitmq*",), ("rabbitmq*",)),
    ("Redis (shared server)", ("redis*",), ("redis*",)),
)


def _ratio(ours: float, theirs: float | None, *, lower_is_better: bool = False) -> str:
    if not theirs or not ours:
        return ""
    return f"{(theirs / ours if lower_is_better else ours / theirs):.1f}x"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _cpu(run: dict[str, Any] | None, prefixes: tuple[str, ...]) -> float | None:
    if not run or not prefixes:
        return None
    cpu: dict[str, float] = run["cpu_ms_per_job"]
    return sum(ms for name, ms in cpu.items() if name.startswith(prefixes))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class Cost:
    """CPU ms per job of one system: every process but the load client, and the model's share."""

    total: float
    model: float

    @property
    def overhead(self) -> float:
        return self.total - self.model


def costs(r: Results) -> tuple[Cost | None, Cost | None]:
    """This system's and the baseline's cost per job (None: not measured). The model's share
    is the ceiling's CPU per document: `nlp.pipe` in batches for this system (its worker
    batches), one document at a time for the baseline (its task calls `nlp(text)`)."""

    def cost(run: dict[str, Any] | None, ours: bool, model_key: str) -> Cost | None:
        if not run or model_key not in r.ceiling:
            return None
        total = sum(_cpu(run, names if ours else base_names) or 0.0 for _, names, base_names in _PROCESS_ROWS)
        return Cost(total, float(r.ceiling[model_key]))

    return (
        cost(r.jobs_run, True, "pipe_cpu_ms_per_doc"),
        cost(r.baseline_run, False, "one_at_a_time_cpu_ms_per_doc"),
    )


def _cost_rows(r: Results) -> list[Row]:
    rows: list[Row] = []
    for label, ours_names, base_names in _PROCESS_ROWS:
        ours, base = _cpu(r.jobs_run, ours_names), _cpu(r.baseline_run, base_names)
        rows.append((f"CPU ms/job: {label}", _ms(ours), _ms(base) if r.baseline_run else "", "", ""))
    ours_cost, base_cost = costs(r)
    if ours_cost is None:
        return rows
    target = base_cost.overhead / 4 if base_cost else None
    rows += [
        (
            "**CPU ms/job: total**",
            f"**{ours_cost.total:.2f}**",
            f"**{base_cost.total:.2f}**" if base_cost else "",
            _ratio(ours_cost.total, base_cost.total if base_cost else None, lower_is_better=True),
            "",
        ),
        (
            "model alone, CPU ms/doc",
            f"{ours_cost.model:.2f} (`nlp.pipe`)",
            f"{base_cost.model:.2f} (one at a time)" if base_cost else "",
            "",
            "",
        ),
        (
            "**platform overhead** (total - model)",
            f"**{ours_cost.overhead:.2f}**",
            f"**{base_cost.overhead:.2f}**" if base_cost else "",
            _ratio(ours_cost.overhead, base_cost.overhead if base_cost else None, lower_is_better=True),
            f"<= 1/4 of Celery's ({target:.2f}): {_verdict(ours_cost.overhead <= target)}"
            if target is not None
            else "",
        ),
        (
            "load client, CPU ms/job (not counted)",
            _ms(r.jobs_run["cpu_ms_per_job"].get("loadgen")),
            _ms((r.baseline_run or {}).get("cpu_ms_per_job", {}).get("loadgen")) if r.baseline_run else "",
            "",
            "",
        ),
    ]
    return rows


def _rows(r: Results) -> list[Row]:
    ours, base = r.jobs_run, r.baseline_run or {}
    drain, base_drain = r.jobs_drain, r.baseline_drain or {}
    pipe = float(r.ceiling.get("pipe_docs_per_s", 0))
    e2e = float(ours.get("end_to_end_jobs_per_s", 0))
    rows = _cost_rows(r)
    rows += [
        (
            "end-to-end jobs/s",
            f"{e2e}",
            f"{base.get('end_to_end_jobs_per_s', '')}",
            _ratio(e2e, base.get("end_to_end_jobs_per_s")),
            f">= 2.5x: {_verdict(e2e >= 2.5 * base['end_to_end_jobs_per_s'])}" if base else "",
        ),
    ]
    if drain:
        rows += [
            (
                "drain jobs/s (backlog of N)",
                f"{drain['drain_jobs_per_s']}",
                f"{base_drain.get('drain_jobs_per_s', '')}",
                _ratio(drain["drain_jobs_per_s"], base_drain.get("drain_jobs_per_s")),
                "",
            ),
            (
                "interactive submit p50 / p99 (ms) while it drains",
                f"{drain['interactive_p50_ms']} / {drain['interactive_p99_ms']}",
                f"{base_drain['interactive_p50_ms']} / {base_drain['interactive_p99_ms']}"
                if base_drain
                else "",
                "",
                f"p99 <= 50 ms: {_verdict(drain['interactive_p99_ms'] <= 50)}",
            ),
        ]
    rows += [
        (
            f"loadgen submit p50 / p99 (ms), {r.concurrency} in flight",
            f"{ours['submit_p50_ms']} / {ours['submit_p99_ms']}",
            f"{base['submit_p50_ms']} / {base['submit_p99_ms']}" if base else "",
            "",
            "",
        ),
        (
            "submissions/s",
            f"{ours['submit_rps']}",
            f"{base.get('submit_rps', '')}",
            _ratio(ours["submit_rps"], base.get("submit_rps")),
            "",
        ),
        (
            "jobs ok / unfinished",
            f"{ours['ok']} / {ours['unfinished']}",
            f"{base.get('ok', '')} / {base.get('unfinished', '')}" if base else "",
            "",
            "",
        ),
        ("load average before run", f"{ours['load_before']}", f"{base.get('load_before', '')}", "", ""),
        ("ceiling: spaCy one at a time (docs/s)", f"{r.ceiling.get('one_at_a_time_docs_per_s')}", "", "", ""),
        ("ceiling: spaCy nlp.pipe (docs/s)", f"{pipe}", "", "", ""),
    ]
    if len(r.scale) >= 2:
        small, large = r.scale[0], r.scale[-1]
        change = large["end_to_end_jobs_per_s"] / small["end_to_end_jobs_per_s"] - 1
        server = large["server_jobs_per_s"] / small["server_jobs_per_s"] - 1
        rows.append(
            (
                f"scale: {small['n']} -> {large['n']} jobs (jobs/s, loadgen)",
                f"{small['end_to_end_jobs_per_s']} -> {large['end_to_end_jobs_per_s']} ({change:+.0%})",
                "",
                "",
                # the target is that work does not slow down as it grows; faster is within it
                f"no slower than 10%: {_verdict(change >= -0.10)}"
                + (" (faster at scale)" if change > 0.10 else ""),
            )
        )
        rows.append(
            (
                "scale: same, first created -> last finished (jobs/s)",
                f"{small['server_jobs_per_s']} -> {large['server_jobs_per_s']} ({server:+.0%})",
                "",
                "",
                "",
            )
        )
    if r.memory is not None:
        m = r.memory
        rows.append(
            (
                "Redis bytes per finished job, without result",
                f"{m.per_job_bytes:.0f}",
                "",
                "",
                f"<= 2048: {_verdict(m.per_job_bytes <= 2048)}",
            )
        )
        rows.append(
            (
                "  of which: hash / result key / event log / index / expires",
                f"{m.hash_bytes:.0f} / {m.result_key_bytes:.0f} / {m.events_bytes:.0f}"
                f" / {m.index_bytes:.0f} / {m.expires_bytes:.0f}",
                "",
                "",
                f"(result string {m.result_bytes:.0f}, not counted)",
            )
        )
    if r.api_peak_rss_mb:
        rows.append(("API peak RSS (MB)", f"{r.api_peak_rss_mb:.0f}", "", "", ""))
    return rows


def render_table(r: Results) -> str:
    header = ("", "this system", "Celery baseline", "ratio", "target")
    rows = [tuple(cell.replace("**", "").replace("`", "") for cell in row) for row in [header, *_rows(r)]]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    title = f"{r.jobs} ner.entities jobs at concurrency {r.concurrency}, NER workers: {r.ner_workers}"
    return f"{title}\n\n" + "\n".join(lines)


def _command(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_description() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    redis = _command(["redis-cli", "info", "server"])
    redis_version = next(
        (ln.split(":")[1] for ln in redis.splitlines() if ln.startswith("redis_version")), "?"
    )
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores (shared with other work: see the load averages)",
        f"- memory: {mem_kb / 1024 / 1024:.1f} GB; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; Redis {redis_version}; RabbitMQ "
        f"{_command(['rabbitmqctl', 'version']) or '?'}",
    ]


def render_markdown(r: Results, args: str) -> str:
    table = ["| | this system | Celery baseline | ratio | target |", "|---|---|---|---|---|"]
    table += [f"| {' | '.join(row)} |" for row in _rows(r)]
    scale = "\n".join(f"- {run['n']} jobs: {run}" for run in r.scale)
    return "\n".join(
        [
            "# Benchmarks",
            "",
            "Down to the end marker this page is generated by `make bench` (`bench/run.py`); the notes",
            "after it are written by hand. How the benchmark works: [bench/README.md](../bench/README.md).",
            "",
            f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {r.wall_seconds:.0f} s in all.",
            "",
            "## Machine",
            "",
            *machine_description(),
            "",
            "## Command",
            "",
            "```",
            f"make bench BENCH_ARGS='{args}'" if args else "make bench",
            "```",
            "",
            f"## Results: {r.jobs} `ner.entities` jobs at concurrency {r.concurrency}",
            "",
            *table,
            "",
            "CPU ms per job: CPU time (user + system) of each process group during the loadgen run"
            " (all its descendants: the model processes too), divided by N; RabbitMQ and Redis are"
            " the machine's shared servers (anyone else's load is in them). The model's share is"
            " the ceiling's CPU per document, measured alone. While other people work on the"
            " machine the figures are noisy: compare the two columns of one run.",
            "",
            "Raw lines:",
            "",
            f"- this system: `{r.jobs_run}`",
            f"- this system, backlog run: `{r.jobs_drain}`",
            f"- Celery baseline: `{r.baseline_run}`",
            f"- Celery baseline, backlog run: `{r.baseline_drain}`",
            f"- ceiling: `{r.ceiling}`",
            scale,
            "",
        ]
    )
