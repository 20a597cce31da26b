"""Bringing up the two systems under test as real processes, and stopping exactly them.

`JobsStack` is this project (API, NER worker, projector) in its own vhost and Redis
database, which it empties first; `CeleryStack` is the baseline from `bench/celery_baseline`
in its own virtualenv (`make bench-baseline`), on Redis databases 1 and 2 as written.
"""

import os
import secrets
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlparse

import httpx

from tools.devstack import ROOT, Launcher, Process, free_port, wait_until

__all__ = [
    "ROOT",
    "CeleryStack",
    "JobsStack",
    "cpu_seconds",
    "peak_rss_mb",
    "shared_server_cpu",
]

BASELINE_DIR = ROOT / "bench" / "celery_baseline"
BASELINE_VENV = ROOT / ".bench-venv"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def cpu_seconds(group: int) -> float:
    """CPU time (user + system) of every live process in process group `group`, in seconds."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == group:  # pgrp; then utime, stime at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(fields[9])
    return inodes


def listening_pid(port: int) -> int | None:
    """The process that listens on `port` (from /proc: the owner of the listening socket)."""
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                if os.readlink(fd) in inodes:
                    return int(fd_dir.parent.name)
        except OSError:
            continue  # exited meanwhile, or not ours to read
    return None


_SHARED_SERVERS: dict[str, int | None] = {}


def shared_server_cpu(amqp_port: int = 5672, redis_port: int = 6379) -> dict[str, float]:
    """CPU seconds so far of the machine's RabbitMQ and Redis servers (read only): the ones
    listening on the given ports, not any other node someone runs (fault tests start
    throwaway RabbitMQ nodes and redis-servers on the same machine)."""
    found: dict[str, float] = {}
    for label, port in (("rabbitmq*", amqp_port), ("redis*", redis_port)):
        if label not in _SHARED_SERVERS:
            _SHARED_SERVERS[label] = listening_pid(port)
        pid = _SHARED_SERVERS[label]
        if pid is None:
            raise RuntimeError(f"no process listens on port {port} ({label})")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        found[label] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


class _Stack:
    base_url: str
    submit_path: str
    status_template: str
    headers: dict[str, str]

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # Each process in its own process group: its CPU time counts what it forked (cpu_seconds).
        self.launcher = Launcher({}, logs)

    @property
    def processes(self) -> list[Process]:
        return list(self.launcher.processes.values())

    def _start(self, name: str, argv: Sequence[str], cwd: Path, env: dict[str, str]) -> Process:
        return self.launcher.add(Process(name, argv, env, self.launcher.log_dir, cwd=cwd))

    def _check_alive(self) -> None:
        self.launcher.check_alive()

    def warm_up(self, jobs: int = 8, timeout: float = 120) -> None:
        """Run a few jobs to the end: models loaded, connections open, before measuring."""
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=10) as client:
            ids = []
            for i in range(jobs):
                body = {
                    "operation": "ner.entities",
                    "input": {"text": f"Warm-up {i}: Ada Lovelace in London."},
                }
                reply = client.post(self.submit_path, json=body)
                reply.raise_for_status()
                data = reply.json()
                ids.append(data.get("task_id") or data.get("id"))

            def all_done() -> bool:
                self._check_alive()
                statuses = [
                    str(client.get(self.status_template.format(id=i)).json()["status"]).lower() for i in ids
                ]
                return all(s in ("success", "succeeded") for s in statuses)

            wait_until(all_done, timeout, f"{type(self).__name__} warm-up jobs")

    def stop(self) -> None:
        self.launcher.stop()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class JobsStack(_Stack):
    """This project: projector, NER worker(s), API (no LLM worker: the load is NER only).
    With `ner_workers=0` nothing runs jobs until `add_ner_worker()` (jobs wait queued)."""

    submit_path = "/v1/jobs"
    status_template = "/v1/jobs/{id}"

    def __init__(
        self,
        logs: Path,
        *,
        amqp_url: str,
        redis_url: str,
        ner_workers: int = 1,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(logs)
        if urlparse(redis_url).path.strip("/") in ("", "0", "15"):
            raise ValueError(f"refusing to empty Redis database of {redis_url}: give the bench its own")
        self.amqp_url = amqp_url
        self.redis_url = redis_url
        self.ner_workers = ner_workers
        key = secrets.token_urlsafe(16)
        self.headers = {"Authorization": f"Bearer {key}"}
        self.launcher.env = {
            "AMQP_URL": amqp_url,
            "REDIS_URL": redis_url,
            "JOBS_API_KEYS": f"bench:{key}",
            "API_PORT": str(self.port),
            "LOG_LEVEL": "WARNING",
            # One bench tenant sends what many tenants would: limits far above the load, still
            # checked on every request so that their cost is in the numbers.
            "API_TENANT_SUBMIT_RATE": "1000000",
            "API_TENANT_SUBMIT_BURST": "1000000",
            "API_TENANT_MAX_ACTIVE_JOBS": "100000000",
            "API_TENANT_MAX_STREAMS": "1000000",
            "LLM_TENANT_DAILY_TOKENS": "1000000000000",
            **(extra_env or {}),
        }

    def add_ner_worker(self) -> Process:
        count = sum(1 for p in self.processes if p.name.startswith("ner-"))
        return self.launcher.start_service("ner", name=f"ner-{count}")

    @property
    def api(self) -> Process:
        return self.launcher.processes["api"]

    def __enter__(self) -> Self:
        from bench.reset import reset_jobs_state

        reset_jobs_state(self.amqp_url, self.redis_url)
        try:
            self.launcher.start_service("projector")
            for _ in range(self.ner_workers):
                self.add_ner_worker()
            api = self.launcher.start_service("api")

            def ready() -> bool:
                self._check_alive()
                return httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200

            wait_until(ready, 60, "the API to be ready")
            if self.ner_workers:
                self.warm_up()
            assert api.alive()
        except BaseException:
            self.stop()
            raise
        return self


class CeleryStack(_Stack):
    """The baseline as /work/shared/bench/README.md runs it: a 2-process prefork worker and uvicorn."""

    submit_path = "/tasks"
    status_template = "/tasks/{id}"
    headers: dict[str, str] = {}  # noqa: RUF012 (the baseline has no authentication)

    def __enter__(self) -> Self:
        bin_dir = BASELINE_VENV / "bin"
        if not (bin_dir / "celery").exists():
            raise RuntimeError("the Celery baseline is not installed: run `make bench-baseline`")
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "VIRTUAL_ENV": str(BASELINE_VENV)}
        try:
            # Leftover tasks of an interrupted run would be measured as this run's work.
            subprocess.run(
                [str(bin_dir / "celery"), "-A", "tasks", "purge", "-f"],
                cwd=BASELINE_DIR,
                env=env,
                check=True,
                capture_output=True,
                timeout=60,
            )
            self._start(
                "celery-worker",
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "tasks",
                    "worker",
                    "-c",
                    "2",
                    "--pool=prefork",
                    "--loglevel=warning",
                ],
                BASELINE_DIR,
                env,
            )
            self._start(
                "celery-api",
                [str(bin_dir / "uvicorn"), "api:api", "--port", str(self.port), "--log-level", "warning"],
                BASELINE_DIR,
                env,
            )

            def ready() -> bool:
                self._check_alive()
                return httpx.get(f"{self.base_url}/docs", timeout=2).status_code == 200

            wait_until(ready, 60, "the baseline API to be ready")
            self.warm_up()
        except BaseException:
            self.stop()
            raise
        return self
