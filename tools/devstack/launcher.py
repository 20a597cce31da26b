"""Processes started together and stopped together: the services of `make run`, of the
end-to-end and fault tests and of the benchmarks."""

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from tools.devstack.process import Process, ServiceProcess

__all__ = ["SERVICES", "Launcher"]

SERVICES = ("projector", "ner", "ocr", "llm", "pipeline", "rag", "api")
"""Every service, in the order `make run` starts them (consumers first, the API last)."""


class Launcher:
    def __init__(self, env: Mapping[str, str], log_dir: Path | None = None) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.processes: dict[str, Process] = {}

    def add(self, process: Process) -> Process:
        """Start `process` and stop it with the others."""
        if process.name in self.processes:
            raise ValueError(f"a process named {process.name!r} is already in this launcher")
        self.processes[process.name] = process.start()
        return process

    def start_service(
        self, service: str, *, name: str | None = None, env: Mapping[str, str] | None = None
    ) -> ServiceProcess:
        process = ServiceProcess(service, {**self.env, **(env or {})}, self.log_dir, name=name)
        self.add(process)
        return process

    def start_services(self, services: Iterable[str]) -> dict[str, Process]:
        for service in services:
            self.start_service(service)
        return self.processes

    def check_alive(self) -> None:
        for process in self.processes.values():
            if not process.alive():
                raise RuntimeError(f"{process.name} exited with {process.returncode}:\n{process.log_tail()}")

    def supervise(self, stopping: threading.Event, restart_after: float = 2.0) -> None:
        """Restart any process that exits, until `stopping` is set."""
        while not stopping.wait(0.5):
            for process in self.processes.values():
                if not process.alive() and not stopping.is_set():
                    print(f"  {process.name} exited with {process.returncode}; restarting", flush=True)
                    if not stopping.wait(restart_after):
                        process.restart()

    def stop(self) -> None:
        """Every process, the last started first."""
        for process in reversed(list(self.processes.values())):
            process.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
