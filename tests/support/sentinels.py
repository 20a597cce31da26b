"""A throwaway Redis primary, one replica and three sentinels on loopback (own ports, own
temporary directory), with short fail-over timings, for tests that kill the primary.
Every process is stopped by its pid; nothing else on the machine is touched."""

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import redis

from tools.devstack import free_port, wait_until

__all__ = ["MASTER", "SentinelGroup", "running_group"]

MASTER = "jobs"


def _sentinel_id(port: int) -> str:
    return f"{port:040x}"


class SentinelGroup:
    """`password` protects the two data servers, `sentinel_password` the sentinels."""

    def __init__(
        self,
        *,
        password: str | None = None,
        sentinel_password: str | None = None,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="jobs-sentinel-"))
        self.password = password
        self.sentinel_password = sentinel_password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.data_ports = [free_port(), free_port()]  # [first primary, first replica]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._binary = shutil.which("redis-server")
        if self._binary is None:
            raise RuntimeError("sentinel tests need 'redis-server' on PATH")

    @property
    def sentinels(self) -> str:
        """The `REDIS_SENTINELS` value."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password, decode_responses=True, socket_timeout=2)

    def sentinel_client(self, port: int) -> redis.Redis:
        return redis.Redis(
            port=port, password=self.sentinel_password, decode_responses=True, socket_timeout=2
        )

    def start(self) -> "SentinelGroup":
        try:
            self._start()
        except BaseException:
            self.stop()  # nothing left running when it never came up
            raise
        return self

    def _start(self) -> None:
        primary, replica = self.data_ports
        self._data_server(primary, replicaof=None)
        self._data_server(replica, replicaof=primary)
        wait_until(
            lambda: self.client(replica).info("replication")["master_link_status"] == "up", 20, "replica"
        )
        for port in self.sentinel_ports:
            self._sentinel(port, primary, replica)
        wait_until(self._sentinels_agree, 30, "three sentinels that know each other and the replica")

    def _data_server(self, port: int, replicaof: int | None) -> None:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--repl-diskless-sync-delay", "0"]  # the replica syncs at once, not after 5 s
        args += ["--dir", str(self._subdir(f"redis-{port}"))]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        if replicaof is not None:
            args += ["--replicaof", "127.0.0.1", str(replicaof)]
        self._spawn(port, [self._binary or "redis-server", *args])
        wait_until(lambda: self.client(port).ping(), 20, f"redis-server on {port}")

    def _sentinel(self, port: int, primary: int, replica: int) -> None:
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {self._subdir(f'sentinel-{port}')}",
            f"sentinel myid {_sentinel_id(port)}",
            f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2",
            # what they would learn from each other in a few hello rounds (2 s each), known at once
            f"sentinel known-replica {MASTER} 127.0.0.1 {replica}",
            *(
                f"sentinel known-sentinel {MASTER} 127.0.0.1 {other} {_sentinel_id(other)}"
                for other in self.sentinel_ports
                if other != port
            ),
            f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}",
            f"sentinel failover-timeout {MASTER} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {MASTER} 1",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {MASTER} {self.password}")
        if self.sentinel_password:  # the sentinels' own password, also used between them
            lines += [
                f"requirepass {self.sentinel_password}",
                f"sentinel sentinel-pass {self.sentinel_password}",
            ]
        conf = self.dir / f"sentinel-{port}.conf"  # sentinels rewrite their config: a file of their own
        conf.write_text("\n".join(lines) + "\n")
        self._spawn(port, [self._binary or "redis-server", str(conf), "--sentinel"])
        wait_until(lambda: self.sentinel_client(port).ping(), 20, f"sentinel on {port}")

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            info = cast(dict[str, Any], self.sentinel_client(port).sentinel_master(MASTER))
            if int(info["num-other-sentinels"]) < 2 or int(info["num-slaves"]) < 1:
                return False
        return True

    def _subdir(self, name: str) -> Path:
        path = self.dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _spawn(self, port: int, argv: list[str]) -> None:
        log = (self.dir / f"{port}.log").open("ab")
        self._procs[port] = subprocess.Popen(argv, stdout=log, stderr=log)

    def master_port(self) -> int:
        """The primary's port, as the sentinels' majority sees it now."""
        ports = []
        for port in self.sentinel_ports:
            try:
                address = self.sentinel_client(port).sentinel_get_master_addr_by_name(MASTER)
                _, master = cast(tuple[str, int], address)
                ports.append(int(master))
            except redis.RedisError:
                continue
        return max(set(ports), key=ports.count)

    def kill(self, port: int) -> None:
        """SIGKILL: no goodbye to clients or replicas, the way a crashed host goes."""
        proc = self._procs.pop(port)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def wait_promoted(self, old: int, timeout: float = 30) -> int:
        """The new primary's port, once the sentinels have promoted one and it accepts writes."""

        def promoted() -> int:  # 0: not yet
            port = self.master_port()
            if port == old or self.client(port).info("replication")["role"] != "master":
                return 0
            return port

        return wait_until(promoted, timeout, "a promoted replica", interval=0.1)

    def stop(self) -> None:
        for proc in self._procs.values():
            proc.send_signal(signal.SIGKILL)
        for proc in self._procs.values():
            proc.wait(timeout=10)
        self._procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def running_group() -> Iterator[SentinelGroup]:
    """A started group with both passwords set (`data-secret`, `sentinel-secret`), stopped after."""
    group = SentinelGroup(password="data-secret", sentinel_password="sentinel-secret")
    try:
        yield group.start()
    finally:
        group.stop()
