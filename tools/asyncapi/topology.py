"""The topology exactly as the services declare it: `declare_topology` run against a channel
that records instead of talking to a broker.

Whatever `shared/messaging.declare_topology` declares (exchanges with their types, queues with
their arguments, bindings by routing key or by headers) is what the document and the broker
permissions describe, so neither can drift from it.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from aio_pika.abc import AbstractChannel

from shared.messaging import declare_topology

__all__ = ["Binding", "DeclaredQueue", "Topology", "declared_topology"]


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        found: dict[str, Any] = {"exchange": self.exchange}
        if self.routing_key is not None:
            found["routingKey"] = self.routing_key
        if self.arguments:
            found["arguments"] = self.arguments
        return found


@dataclass
class DeclaredQueue:
    name: str
    arguments: dict[str, Any]
    bindings: list[Binding] = field(default_factory=list)


@dataclass
class Topology:
    exchanges: dict[str, str] = field(default_factory=dict)
    """Name -> type (topic, direct, headers, fanout), in declaration order."""
    queues: dict[str, DeclaredQueue] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [*self.exchanges, *self.queues]


class _Exchange:
    def __init__(self, name: str) -> None:
        self.name = name


class _Queue:
    def __init__(self, declared: DeclaredQueue) -> None:
        self._declared = declared

    async def bind(
        self,
        exchange: _Exchange | str,
        routing_key: str | None = None,
        *,
        arguments: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        name = exchange if isinstance(exchange, str) else exchange.name
        self._declared.bindings.append(Binding(name, routing_key, dict(arguments or {})))


class _RecordingChannel:
    def __init__(self, topology: Topology) -> None:
        self._topology = topology

    async def declare_exchange(self, name: str, type: Any = "direct", **_: Any) -> _Exchange:
        self._topology.exchanges[name] = str(getattr(type, "value", type))
        return _Exchange(name)

    async def declare_queue(self, name: str, *, arguments: dict[str, Any] | None = None, **_: Any) -> _Queue:
        declared = self._topology.queues.setdefault(name, DeclaredQueue(name, dict(arguments or {})))
        return _Queue(declared)


def declared_topology() -> Topology:
    topology = Topology()
    asyncio.run(declare_topology(cast(AbstractChannel, _RecordingChannel(topology))))
    return topology
