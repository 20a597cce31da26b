"""The benchmark's one table, and docs/benchmarks.md."""

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.readmodel_stats import ReadModelStats

__all__ = ["GENERATED", "Results", "machine_description", "render_markdown", "render_table"]

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
    memory: ReadModelStats | None = None
    api_peak_rss_mb: float = 0.0
    scale: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0


def _ratio(ours: float, theirs: float | None, *, lower_is_better: bool = False) -> str:
    if not theirs or not ours:
        return ""
    return f"{(theirs / ours if lower_is_better else ours / theirs):.1f}x"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _rows(r: Results) -> list[tuple[str, str, str, str, str]]:
    ours, base = r.jobs_run, r.baseline_run or {}
    pipe = float(r.ceiling.get("pipe_docs_per_s", 0))
    e2e = float(ours.get("end_to_end_jobs_per_s", 0))
    rows = [
        (
            "submit p50 (ms)",
            f"{ours['submit_p50_ms']}",
            f"{base.get('submit_p50_ms', '')}",
            _ratio(ours["submit_p50_ms"], base.get("submit_p50_ms"), lower_is_better=True),
            "",
        ),
        (
            "submit p99 (ms)",
            f"{ours['submit_p99_ms']}",
            f"{base.get('submit_p99_ms', '')}",
            _ratio(ours["submit_p99_ms"], base.get("submit_p99_ms"), lower_is_better=True),
            f"<= 25 ms: {_verdict(ours['submit_p99_ms'] <= 25)}",
        ),
        (
            "submissions/s",
            f"{ours['submit_rps']}",
            f"{base.get('submit_rps', '')}",
            _ratio(ours["submit_rps"], base.get("submit_rps")),
            "",
        ),
        (
            "end-to-end jobs/s",
            f"{e2e}",
            f"{base.get('end_to_end_jobs_per_s', '')}",
            _ratio(e2e, base.get("end_to_end_jobs_per_s")),
            f">= 4x: {_verdict(bool(base) and e2e >= 4 * base['end_to_end_jobs_per_s'])}" if base else "",
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
        (
            "end-to-end / nlp.pipe ceiling",
            f"{100 * e2e / pipe:.0f}%" if pipe else "",
            f"{100 * base['end_to_end_jobs_per_s'] / pipe:.0f}%" if base and pipe else "",
            "",
            f">= 75%: {_verdict(pipe > 0 and e2e >= 0.75 * pipe)}",
        ),
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
                f"within 10%: {_verdict(abs(change) <= 0.10)}"
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
    rows.append(("API peak RSS (MB)", f"{r.api_peak_rss_mb:.0f}", "", "", ""))
    return rows


def render_table(r: Results) -> str:
    header = ("", "this system", "Celery baseline", "ratio", "target")
    rows = [header, *_rows(r)]
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
            "Raw loadgen lines:",
            "",
            f"- this system: `{r.jobs_run}`",
            f"- Celery baseline: `{r.baseline_run}`",
            f"- ceiling: `{r.ceiling}`",
            scale,
            "",
        ]
    )
