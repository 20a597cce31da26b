"""Which broker user may configure, write and read what: derived from the topology.

RabbitMQ grants three regular expressions per user and vhost, matched against
exchange and queue names (https://www.rabbitmq.com/access-control.html):
configure (declare, delete), write (publish to an exchange; bind *to* a queue) and
read (consume from a queue; bind *from* an exchange).

- A tenant (direct publisher) may only publish to `jobs`: no configure, no read.
  It cannot declare anything either, so it uses the exchange passively.
- Every service declares the whole topology at start (`declare_topology`, so any
  service may start first). That needs configure on every platform name, and the
  bindings it declares need write on every platform queue and read on every
  exchange. Those grants are limited to the platform's exact names: a service can
  re-declare (or delete) a platform queue, but can neither create another queue nor
  publish to an exchange it does not own nor consume a queue that is not its own.
  Publishing to queues directly would need write on the default exchange, which
  nobody gets.
- Write on exchanges and read on queues are per role: the API publishes commands
  and its `cancelled` events; a worker publishes events, dead letters and delayed commands
  (retries, leases, hand-backs, through `jobs.delay`, never to `jobs` itself); every
  consumer reads only its own queues.

The names come from the topology as `declare_topology` declares it
(tools/asyncapi/topology.py), so a new queue or exchange is covered without editing this.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.schemas.topology import (
    DEAD_LETTER_EXCHANGE,
    DELAY_EXCHANGE,
    EVENTS_EXCHANGE,
    HISTORY_STREAM,
    JOBS_EXCHANGE,
    PIPELINE_QUEUE,
)
from tools.asyncapi.subscribers import Subscription
from tools.asyncapi.topology import Topology

__all__ = ["API_SERVICE", "Grant", "grants", "service_user", "tenant_grant"]

API_SERVICE = "api"
DEFAULT_EXCHANGE = "amq.default"
"""The nameless default exchange, as permissions name it: RPC calls and replies go through it."""
REPLY_TO = "amq.rabbitmq.reply-to"
"""Direct reply-to: where the API hears the answers to its `rag.search` calls."""
USER_PREFIX = "jobs-"


@dataclass(frozen=True)
class Grant:
    user: str
    configure: str
    write: str
    read: str
    role: str
    platform: bool = False
    """A platform service whose commands may name any tenant (JOBS_PLATFORM_BROKER_USERS)."""


def service_user(service: str) -> str:
    return f"{USER_PREFIX}{service}"


def exactly(names: Iterable[str]) -> str:
    """A permission regex matching exactly these names (`^$` matches nothing)."""
    unique = sorted(set(names))
    return "^(" + "|".join(re.escape(n) for n in unique) + ")$" if unique else "^$"


def tenant_grant(user: str, tenant: str) -> Grant:
    """A direct publisher: publish to `jobs`, nothing else (no declaring, no reading)."""
    return Grant(
        user=user, configure="^$", write=exactly([JOBS_EXCHANGE]), read="^$", role=f"tenant {tenant}"
    )


def grants(
    topology: Topology, subscriptions: Sequence[Subscription], tenants: Mapping[str, str]
) -> list[Grant]:
    """One grant per service (the API and every Propan service) and per tenant user."""
    queue_names = [*topology.queues, *(s.queue for s in subscriptions)]
    names = [*topology.exchanges, *queue_names]
    consumed: dict[str, set[str]] = {API_SERVICE: {REPLY_TO}}
    # The API publishes commands and its own job event (cancel-while-queued `cancelled`), and
    # calls `rag.search` (RPC) through the default exchange.
    publishes: dict[str, set[str]] = {API_SERVICE: {JOBS_EXCHANGE, EVENTS_EXCHANGE, DEFAULT_EXCHANGE}}
    for sub in subscriptions:
        consumed.setdefault(sub.service, set()).add(sub.queue)
        out = publishes.setdefault(sub.service, set())
        out.add(DEAD_LETTER_EXCHANGE)  # every consumer parks what it cannot process
        if sub.exchange == JOBS_EXCHANGE:
            out |= {EVENTS_EXCHANGE, DELAY_EXCHANGE}  # a worker reports events, re-queues commands
        if sub.exchange == DEAD_LETTER_EXCHANGE:
            out.add(EVENTS_EXCHANGE)  # a dead-letter watcher fails the jobs it finds
        if not sub.exchange:
            out.add(DEFAULT_EXCHANGE)  # an RPC server (rag.search) replies through the default exchange
        if sub.queue == PIPELINE_QUEUE.name:
            out.add(JOBS_EXCHANGE)  # the pipeline driver starts its steps as jobs
    for reader in HISTORY_STREAM.readers:  # read with a plain stream consumer, not a Propan handler
        consumed.setdefault(reader, set()).add(HISTORY_STREAM.name)
        publishes.setdefault(reader, set())
    found = [
        Grant(
            user=service_user(service),
            configure=exactly(names),
            write=exactly([*publishes[service], *queue_names]),
            read=exactly([*consumed[service], *topology.exchanges]),
            role=f"service {service}",
            platform=bool(publishes[service] & {JOBS_EXCHANGE, DELAY_EXCHANGE}),
        )
        for service in sorted(consumed)
    ]
    found += [tenant_grant(user, tenant) for user, tenant in sorted(tenants.items())]
    return found
