"""What every worker consumes, read from its Propan app by Propan's own AsyncAPI generation.

Runs in `.venvs/asyncapi`, the one environment with every worker's Propan app (Propan cannot be
imported beside the current FastAPI of the development environment); prints the subscriptions
as JSON for `tools.asyncapi.subscribers`. A worker service is any package `services/<name>/`
whose `app.py` has a `create_app(settings) -> PropanApp`; a new service is found without editing
anything here. This module is the one place outside the services' wiring that imports Propan
(to read, not to run).
"""

import dataclasses
import importlib
import io
import json
import sys
import typing
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from propan import PropanApp
from propan.cli.docs.gen import gen_app_schema_json

from tools.asyncapi.subscribers import Subscription
from tools.devstack.environments import ENVIRONMENTS

__all__ = ["subscriptions_of"]

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


def _resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def subscriptions_of(service: str, app: PropanApp) -> list[Subscription]:
    with redirect_stdout(io.StringIO()):  # Propan prints notes about optional brokers
        schema = gen_app_schema_json(app)
    found = []
    for title, channel in schema.get("channels", {}).items():
        amqp = channel.get("bindings", {}).get("amqp", {})
        operation = channel.get("subscribe") or channel.get("publish") or {}
        message = operation.get("message", {})
        if "$ref" in message:
            message = _resolve(schema, message["$ref"])
        payload = message.get("payload", {})
        if "$ref" in payload:
            payload = _resolve(schema, payload["$ref"])
        # Propan fills examples at random: the document keeps only stable ones.
        payload = {k: v for k, v in payload.items() if k not in ("example", "examples", "title")}
        exchange = amqp.get("exchange") or {}
        found.append(
            Subscription(
                service=service,
                handler=title,
                queue=amqp.get("queue", {}).get("name", title),
                exchange=exchange.get("name"),
                exchange_type=exchange.get("type"),
                description=operation.get("description", ""),
                payload=payload,
            )
        )
    return found


def _service_apps() -> Iterator[tuple[str, PropanApp]]:
    """Each worker's app as its `create_app(settings)` builds it, with the settings' defaults
    (no environment read: the document must not depend on where it is generated). Building
    an app connects nothing and starts no telemetry."""
    for app_file in sorted(SERVICES_DIR.glob("*/app.py")):
        service = app_file.parent.name
        if "propan" not in ENVIRONMENTS[service].extras:
            continue  # not a Propan service (the API)
        create_app = importlib.import_module(f"services.{service}.app").create_app
        settings_class = typing.get_type_hints(create_app)["settings"]
        yield service, create_app(settings_class.model_construct())


def main() -> int:
    with redirect_stdout(sys.stderr):  # stdout is for the JSON only; Propan prints notes
        found = [sub for service, app in _service_apps() for sub in subscriptions_of(service, app)]
    print(json.dumps([dataclasses.asdict(sub) for sub in found]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
