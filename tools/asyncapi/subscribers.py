"""What every worker consumes, as Propan describes it (tools/asyncapi/propan_reader.py reads it
in the workers' own Propan environment; this side needs no Propan)."""

import json
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from tools.devstack import ENVIRONMENTS, ROOT

__all__ = ["Subscription", "discover_subscriptions"]


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


def discover_subscriptions() -> list[Subscription]:
    """Every handler of every Propan service, sorted by service then queue."""
    reader = ENVIRONMENTS["asyncapi"].python
    if not reader.exists():
        raise RuntimeError(f"{reader} is missing: run `make install`")
    done = subprocess.run(
        [str(reader), "-m", "tools.asyncapi.propan_reader"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reading the Propan apps failed:\n{done.stderr}")
    # The last line: importing Propan prints notes about brokers it lacks before anything can redirect.
    found = [Subscription(**item) for item in json.loads(done.stdout.splitlines()[-1])]
    return sorted(found, key=lambda s: (s.service, s.queue, s.handler))
