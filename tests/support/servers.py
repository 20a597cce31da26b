"""Throwaway RabbitMQ and Redis servers on loopback, for fault-injection tests that stop,
restart or freeze them without touching the shared development servers."""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.devstack import ROOT, free_port, wait_until

BROKER_CONF = ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf"
CLUSTER_POLICIES = ROOT / "deploy" / "rabbitmq" / "cluster-policies.sh"


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(f"fault-injection tests need {binary!r} on PATH (RabbitMQ/Redis server packages)")
    return path


class ThrowawayRabbit:
    """A second RabbitMQ node (own name, ports and data directory) on 127.0.0.1."""

    def __init__(self, workdir: Path, *, consumer_timeout_ms: int) -> None:
        self.dir = workdir
        self.port = free_port()
        self.node = f"jobs-fault-{os.getpid()}-{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.consumer_timeout_ms = consumer_timeout_ms
        self._ctl = _require("rabbitmqctl")
        self._proc: subprocess.Popen[bytes] | None = None
        self.os_pid: int | None = None
        """The Erlang VM's pid: the server script runs it under `su` when started as root, so
        killing the script's pid would leave the node running."""

    def ctl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [self._ctl, "-n", self.node, *args], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def start(self) -> "ThrowawayRabbit":
        server = _require("rabbitmq-server")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nconsumer_timeout = {self.consumer_timeout_ms}\n"
            + BROKER_CONF.read_text()  # the production settings (max_message_size), as compose mounts them
        )
        (self.dir / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:  # the server script drops to the rabbitmq user
            shutil.chown(self.dir, "rabbitmq", "rabbitmq")
            for child in self.dir.iterdir():
                shutil.chown(child, "rabbitmq", "rabbitmq")
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            # check consumer timeouts every second instead of every minute
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-rabbit channel_tick_interval 1000",
        }
        log = (self.dir / "server.out").open("ab")
        self._proc = subprocess.Popen([server], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while not self._answers():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"RabbitMQ node {self.node} not up within 120 s")
                time.sleep(0.5)
            self.os_pid = int(self.ctl("eval", "list_to_integer(os:getpid()).").strip())
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        """Up; False while it boots; raises once its process has exited."""
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"RabbitMQ node exited:\n{self._log_tail()}")
        try:
            self.ctl("await_startup", timeout=30)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True

    def _log_tail(self) -> str:
        logs = [self.dir / "server.out", *sorted((self.dir / "log").glob("*.log"))]
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists())

    def add_vhost(self, name: str) -> str:
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{name}"

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")

    def join(self, seed: "ThrowawayRabbit") -> None:
        """Make this (fresh) node a member of `seed`'s cluster."""
        self.ctl("stop_app")
        self.ctl("join_cluster", seed.node)
        self.ctl("start_app")

    def kill(self) -> None:
        """SIGKILL the node, as a crash of its machine would (no goodbye to its peers)."""
        assert self.os_pid is not None, f"{self.node} was never started"
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.os_pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait(timeout=30)

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            try:
                self.ctl("stop", timeout=60)
                self._proc.wait(timeout=30)
            except Exception:
                self._proc.kill()
        if self.os_pid is not None:  # whatever `stop` left behind: by pid, never by name
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.os_pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayCluster:
    """`size` throwaway nodes joined into one cluster (the rabbitmq user's Erlang cookie is
    theirs and rabbitmqctl's). Nodes start in parallel; the others then join the first."""

    def __init__(self, workdir: Path, *, size: int = 3, consumer_timeout_ms: int = 1_800_000) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o755)  # the nodes run as the rabbitmq user (mkdtemp makes it 0700)
        self.nodes = [
            ThrowawayRabbit(workdir / f"node-{i}", consumer_timeout_ms=consumer_timeout_ms)
            for i in range(size)
        ]
        self.dir = workdir

    @property
    def url(self) -> str:
        """`AMQP_URL` of the cluster: every node's URL, comma-separated."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> "ThrowawayCluster":
        seed, *others = self.nodes
        try:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(ThrowawayRabbit.start, self.nodes))
                list(pool.map(lambda node: node.join(seed), others))
            # the policies a cluster of this platform gets (as docker-compose.yml applies them)
            env = {**os.environ, "RABBITMQCTL": f"{seed._ctl} -n {seed.node}"}
            policies = ["sh", str(CLUSTER_POLICIES)]
            subprocess.run(policies, env=env, check=True, capture_output=True, timeout=60)
        except BaseException:
            self.stop()
            raise
        return self

    def node_on_port(self, port: int) -> ThrowawayRabbit:
        return next(node for node in self.nodes if node.port == port)

    def running(self) -> ThrowawayRabbit:
        """A node that is still up (to ask the cluster about itself)."""
        return next(node for node in self.nodes if node._proc is not None and node._proc.poll() is None)

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(ThrowawayRabbit.stop, self.nodes))
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "ThrowawayRedis":
        self._proc = subprocess.Popen(
            [
                _require("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        wait_until(lambda: redis.Redis(port=self.port).ping(), 20, "throwaway Redis")
        return self

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (worse than a refused port)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)
            self._proc.terminate()
            self._proc.wait(timeout=10)
