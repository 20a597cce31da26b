"""docker-compose.yml, read (no Docker engine here): one image per service, no default broker
password, the broker and Redis on loopback only, the broker's max_message_size mounted."""

import re
from typing import Any

import yaml

from tools.devstack import ENVIRONMENTS, ROOT, SERVICES

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_each_service_has_its_own_image_with_only_its_member() -> None:
    for service in SERVICES:
        build = COMPOSE[service]["build"]
        assert build["args"]["SERVICE"] == service
        extras = [f"--extra {extra}" for extra in ENVIRONMENTS[service].extras]
        assert build["args"].get("EXTRAS", "") == " ".join(extras), service
        assert COMPOSE[service]["image"] == f"jobs-{service}"
    assert len({COMPOSE[s]["image"] for s in SERVICES}) == len(SERVICES)


def test_no_broker_password_has_a_default() -> None:
    assert re.fullmatch(
        r"\$\{RABBITMQ_PASSWORD:\?[^}]+\}", COMPOSE["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"]
    )
    for service in SERVICES:
        url = COMPOSE[service]["environment"]["AMQP_URL"]
        assert re.search(r"\$\{BROKER_PASSWORD_JOBS_[A-Z]+:\?[^}]+\}@", url), f"{service}: {url}"


def test_broker_and_redis_are_published_on_loopback_only() -> None:
    for name in ("rabbitmq", "redis"):
        ports = COMPOSE[name].get("ports", [])
        assert ports, name
        assert all(str(port).startswith("127.0.0.1:") for port in ports), f"{name}: {ports}"


def test_the_broker_gets_a_max_message_size() -> None:
    mounts = [v.split(":") for v in COMPOSE["rabbitmq"]["volumes"] if v.startswith("./")]
    conf = next(ROOT / source for source, target, *_ in mounts if target.startswith("/etc/rabbitmq/conf.d/"))
    sizes = re.findall(r"^max_message_size = (\d+)$", conf.read_text(), re.MULTILINE)
    assert sizes, f"no max_message_size in {conf}"
    assert int(sizes[0]) <= 16 * 1024 * 1024
