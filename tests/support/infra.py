"""Where the tests find RabbitMQ and Redis.

1. `TEST_AMQP_URL` / `TEST_REDIS_URL` when set;
2. otherwise throwaway containers (testcontainers) when a Docker engine answers;
3. otherwise the local servers on 127.0.0.1, in a `jobs-test` vhost (created with
   rabbitmqctl if missing) and Redis database 15, so a running development system
   is not disturbed.

A server that cannot be reached fails the tests that need it; nothing is skipped.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/jobs-test"
LOCAL_REDIS = "redis://127.0.0.1:6379/15"


@dataclass(frozen=True)
class Infra:
    amqp_url: str
    redis_url: str
    local: bool
    """True when the broker runs on this machine (fault tests may use rabbitmqctl)."""


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    with suppress(Exception):
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    return False


def ensure_vhost(amqp_url: str) -> None:
    vhost = unquote(urlparse(amqp_url).path.lstrip("/")) or "/"
    if vhost == "/":
        return
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError(f"vhost {vhost!r} may be missing and rabbitmqctl is not installed to create it")
    listed = subprocess.run([ctl, "list_vhosts", "--silent"], capture_output=True, text=True, timeout=60)
    if vhost not in listed.stdout.split():
        subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run(
        [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=60,
    )


@contextmanager
def provide_infra() -> Iterator[Infra]:
    amqp, redis = os.environ.get("TEST_AMQP_URL"), os.environ.get("TEST_REDIS_URL")
    if amqp and redis:
        yield Infra(amqp, redis, local=urlparse(amqp).hostname in ("127.0.0.1", "localhost"))
        return
    if _docker_engine_answers():
        from testcontainers.rabbitmq import RabbitMqContainer
        from testcontainers.redis import RedisContainer

        with (
            RabbitMqContainer("rabbitmq:3.10-management") as rabbit,
            RedisContainer("redis:7.0") as red,
        ):
            rabbit_port = rabbit.get_exposed_port(rabbit.port)
            yield Infra(
                f"amqp://guest:guest@{rabbit.get_container_host_ip()}:{rabbit_port}/",
                f"redis://{red.get_container_host_ip()}:{red.get_exposed_port(6379)}/0",
                local=False,
            )
        return
    ensure_vhost(LOCAL_AMQP)
    yield Infra(LOCAL_AMQP, LOCAL_REDIS, local=True)
