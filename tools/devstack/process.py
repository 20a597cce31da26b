"""One child process of the stack: started in its own session, so that stopping it also stops
whatever it forked (the NER model process, Celery's prefork pool) and nothing else. On Linux
it also gets SIGTERM when the process that started it dies (a test run killed by its timeout
mid-teardown, a `make run` killed), so no service outlives its stack and goes on consuming
from the test broker under old code."""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self, TypeVar

import httpx

from tools.devstack.environments import ENVIRONMENTS, ROOT

__all__ = ["Process", "ServiceProcess", "free_port", "service_command", "wait_ready", "wait_until"]

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """The predicate's first true value; its exceptions mean "not yet" until the deadline."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # not up yet: keep trying until the deadline
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error!r})")


def service_command(service: str) -> list[str]:
    """`python -m services.<service>` with the Python of the service's own environment."""
    return [str(ENVIRONMENTS[service].python), "-m", f"services.{service}"]


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it ends. Only Linux has
    it; elsewhere a child outlives a killed parent as before."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Process:
    """A command with its output in `<log_dir>/<name>.log`, or on this terminal without a log_dir."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path | None = None,
        *,
        cwd: Path = ROOT,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log" if log_dir else None
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        if self.log_path is None:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
            )
            return self
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None, f"{self.name} was never started"
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, as a crash would: what it forked is left to fend for itself."""
        assert self.proc is not None, f"{self.name} was never started"
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` s; then whatever is left of its process group."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    def restart(self, timeout: float = 20) -> Self:
        self.stop(timeout)
        return self.start()

    def log_text(self) -> str:
        """Everything it wrote so far ("" when its output goes to the terminal)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.name} ---\n" + "\n".join(self.log_text().splitlines()[-lines:])


class ServiceProcess(Process):
    """One of the services (`python -m services.<service>`) in its own environment; `name`
    tells apart several processes of one service (`ner-1`)."""

    def __init__(
        self, service: str, env: Mapping[str, str], log_dir: Path | None = None, *, name: str | None = None
    ) -> None:
        venv = ENVIRONMENTS[service].path
        path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        super().__init__(
            name or service,
            service_command(service),
            {**env, "VIRTUAL_ENV": str(venv), "PATH": path},
            log_dir,
        )
        self.service = service


def wait_ready(base_url: str, api: Process, timeout: float = 60) -> None:
    """Until the API at `base_url` answers /readyz with 200 (it fails at once if `api` exits)."""

    def ready() -> bool:
        if not api.alive():
            raise RuntimeError(f"{api.name} exited:\n{api.log_tail()}")
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200

    wait_until(ready, timeout, f"{api.name} to be ready")
