"""What every service consumes, read from its Propan app by Propan's own AsyncAPI generation.

A consumer service is any package `services/<name>/` whose `app.py` has a
`create_app(settings) -> PropanApp`; a new service is found without editing anything here. This module is
the one place outside the services' wiring that imports Propan (to read, not to run).
"""

import importlib
import io
import re
import typing
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from propan import PropanApp
from propan.cli.docs.gen import gen_app_schema_json

__all__ = ["Subscription", "discover_subscriptions", "subscriptions_of"]

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


@dataclass(frozen=True)
class Subscription:
    """One Propan handler: the queue it consumes and how Propan describes it."""

    service: str
    handler: str
    """Propan's channel title (the handler's name in CamelCase), e.g. `HandleNerJob`."""
    queue: str
    exchange: str | None
    exchange_type: str | None
    description: str
    payload: dict[str, Any] = field(default_factory=dict)
    """The handler's body schema as Propan derives it from the handler's signature."""

    @property
    def operation_id(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.handler).lower()


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
    """Each service's app as `create_app(settings)` builds it, with the settings' defaults
    (no environment read: the document must not depend on where it is generated).
    Building an app connects nothing and starts no telemetry."""
    for app_file in sorted(SERVICES_DIR.glob("*/app.py")):
        service = app_file.parent.name
        create_app = getattr(importlib.import_module(f"services.{service}.app"), "create_app", None)
        if create_app is None:
            continue
        hints = typing.get_type_hints(create_app)
        if hints.get("return") is not PropanApp:
            continue  # the API: FastAPI, described by its OpenAPI document
        yield service, create_app(hints["settings"].model_construct())


def discover_subscriptions() -> list[Subscription]:
    """Every handler of every Propan service, sorted by service then queue."""
    found = [sub for service, app in _service_apps() for sub in subscriptions_of(service, app)]
    return sorted(found, key=lambda s: (s.service, s.queue, s.handler))
