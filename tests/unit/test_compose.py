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


# ---- the `cluster` profile: three broker nodes, Redis with a replica and three sentinels ----

NODES = ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
CLUSTER_INFRA = (*NODES, "rabbitmq-policies", "redis-primary", "redis-replica", *SENTINELS)
REQUIRED = r"\$\{%s:\?[^}]+\}"


def test_the_cluster_profile_runs_its_own_infrastructure_and_services() -> None:
    for name in (*CLUSTER_INFRA, *(f"{s}-cluster" for s in SERVICES)):
        assert COMPOSE[name].get("profiles") == ["cluster"], name
    for name in ("rabbitmq", "redis", *SERVICES):  # `docker compose up` runs the single-node stack
        assert "profiles" not in COMPOSE[name], name


def test_the_broker_nodes_form_one_cluster_with_a_required_cookie() -> None:
    conf_files = []
    for node in NODES:
        spec = COMPOSE[node]
        assert spec["hostname"] == node
        assert re.fullmatch(
            REQUIRED % "RABBITMQ_ERLANG_COOKIE", spec["environment"]["RABBITMQ_ERLANG_COOKIE"]
        )
        assert re.fullmatch(REQUIRED % "RABBITMQ_PASSWORD", spec["environment"]["RABBITMQ_DEFAULT_PASS"])
        mounts = {target: source for source, target, *_ in (v.split(":") for v in spec["volumes"])}
        assert mounts["/etc/rabbitmq/conf.d/20-jobs.conf"] == "./deploy/rabbitmq/rabbitmq.conf", node
        conf_files.append(mounts["/etc/rabbitmq/conf.d/30-cluster.conf"])
    (conf,) = set(conf_files)
    text = (ROOT / conf).read_text()
    assert re.search(r"^cluster_formation.peer_discovery_backend = classic_config$", text, re.MULTILINE)
    peers = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)$", text, re.MULTILINE)
    assert tuple(peers) == NODES


def test_cluster_services_reach_every_node_and_redis_through_the_sentinels() -> None:
    sentinel_command = COMPOSE["sentinel-1"]["command"][-1]
    (master,) = re.findall(r"sentinel monitor (\S+) redis-primary 6379 2", sentinel_command)
    for service in SERVICES:
        spec, base = COMPOSE[f"{service}-cluster"], COMPOSE[service]
        assert (spec["build"], spec["image"], spec["command"]) == (
            base["build"],
            base["image"],
            base["command"],
        )
        env = spec["environment"]
        urls = env["AMQP_URL"].split(",")
        assert [re.search(r"@([^:/]+):5672/$", url).group(1) for url in urls] == list(NODES)  # type: ignore[union-attr]
        assert all(re.search(r"\$\{BROKER_PASSWORD_JOBS_[A-Z]+:\?[^}]+\}@", url) for url in urls), service
        assert len({url.split("@")[0] for url in urls}) == 1, f"{service}: one broker user on every node"
        assert [a.split(":")[0] for a in env["REDIS_SENTINELS"].split(",")] == list(SENTINELS)
        assert env["REDIS_SENTINEL_MASTER"] == master
        assert re.search(REQUIRED % "REDIS_PASSWORD", env["REDIS_URL"]), service
        assert set(spec["depends_on"]) >= set(CLUSTER_INFRA) - {"redis-replica"}
        assert not {"rabbitmq", "redis"} & set(spec["depends_on"]), service


def test_cluster_redis_requires_a_password_and_infrastructure_listens_on_loopback() -> None:
    for name in ("redis-primary", "redis-replica"):
        command = COMPOSE[name]["command"]
        for flag in ("--requirepass", "--masterauth"):
            assert re.fullmatch(REQUIRED % "REDIS_PASSWORD", command[command.index(flag) + 1]), name
    assert COMPOSE["redis-replica"]["command"][-3:] == ["--replicaof", "redis-primary", "6379"]
    assert re.search(r"auth-pass \S+ \$\$REDIS_PASSWORD", COMPOSE["sentinel-1"]["command"][-1])
    for name in CLUSTER_INFRA:
        ports = COMPOSE[name].get("ports", [])
        assert name == "rabbitmq-policies" or ports, name
        assert all(str(port).startswith("127.0.0.1:") for port in ports), f"{name}: {ports}"
    published = [
        p.split(":")[1]
        for name in (*CLUSTER_INFRA, "rabbitmq", "redis")
        for p in COMPOSE[name].get("ports", [])
    ]
    assert len(published) == len(set(published)), "two services publish the same port"
