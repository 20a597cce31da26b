"""Who may put which tenant on a job command: the rule for publishers on the broker.

RabbitMQ refuses a message whose AMQP `user_id` differs from the connection's user,
so `user_id` names the broker user that really published a command. Two kinds of
broker users may submit jobs:

- platform users (`JOBS_PLATFORM_BROKER_USERS`): the platform's own services, above
  all the HTTP API, which authenticates its callers by API key and names their tenant
  in the command. They may name any tenant.
- tenant users (`JOBS_BROKER_TENANTS`, `broker-user:tenant` pairs): direct publishers.
  Their commands must name the tenant their user maps to.

Any other command is refused: no `user_id`, an unknown user, or a tenant user naming
another tenant. The default trusts `guest`, the only user of a development broker,
so `make run` works unchanged; production sets both variables (see docs/contract.md).

Job events (`job-events`) are believed only from the platform's own users, each for the
events of its role (`event_refusal`): the API (`JOBS_API_BROKER_USERS`) publishes only
`queued` and `cancelled`; other platform users (the workers) any job event; the projector
its own `failed` for a command the broker dead-lettered. A tenant's user publishes none.

Workers re-publish commands themselves (delayed retries, leases, handing a delivery
back on shutdown), so their users are platform users too. A worker that hands back a
message it has not checked yet names the original publisher in `FORWARDED_FOR_HEADER`,
and the check then applies to that publisher: handing back cannot launder a message.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "FORWARDED_FOR_HEADER",
    "IdentitySettings",
    "PublisherIdentities",
    "Refusal",
    "parse_broker_tenants",
]

FORWARDED_FOR_HEADER = "x-publisher-user-id"
"""Set by a platform service re-publishing someone else's message; honoured only when the
message's `user_id` is a platform user (anyone else's copy of the header is ignored)."""


class IdentitySettings(BaseSettings):
    """Read by the workers, the projector and `make broker-users`."""

    model_config = SettingsConfigDict(extra="ignore")

    platform_broker_users: str = Field(
        "guest",
        validation_alias=AliasChoices("JOBS_PLATFORM_BROKER_USERS"),
        description="Comma-separated broker users of the platform's services; they may name any tenant.",
    )
    api_broker_users: str = Field(
        "",
        validation_alias=AliasChoices("JOBS_API_BROKER_USERS"),
        description="Comma-separated broker users of the HTTP API (platform users too): the only job"
        " events they may publish are `queued` and `cancelled`.",
    )
    broker_tenants: str = Field(
        "",
        validation_alias=AliasChoices("JOBS_BROKER_TENANTS"),
        description="`broker-user:tenant` pairs separated by commas: direct publishers and their tenant.",
    )


@dataclass(frozen=True)
class Refusal:
    code: str
    """A stable dead-letter code (see shared/schemas/deadletters.py)."""
    reason: str


def parse_broker_tenants(spec: str) -> dict[str, str]:
    """`user1:tenant1,user2:tenant2` -> {user: tenant}; raises ValueError on a malformed entry."""
    tenants: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        user, sep, tenant = item.partition(":")
        if not sep or not user or not tenant:
            raise ValueError(f"JOBS_BROKER_TENANTS entry {item!r} is not of the form broker-user:tenant")
        if tenants.get(user, tenant) != tenant:
            raise ValueError(f"JOBS_BROKER_TENANTS maps broker user {user!r} to two tenants")
        tenants[user] = tenant
    return tenants


API_EVENTS = frozenset({"queued", "cancelled"})
PROJECTOR_EVENTS = frozenset({"failed"})


def _users(spec: str) -> Iterable[str]:
    return filter(None, (u.strip() for u in spec.split(",")))


class PublisherIdentities:
    def __init__(
        self, platform_users: Iterable[str], tenants: Mapping[str, str], api_users: Iterable[str] = ()
    ) -> None:
        self.platform_users = frozenset(platform_users)
        self.api_users = frozenset(api_users)
        self.tenants = dict(tenants)
        both = self.platform_users & self.tenants.keys()
        if both:
            raise ValueError(f"broker users {sorted(both)} are both platform users and tenant users")

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> "PublisherIdentities":
        return cls(
            _users(settings.platform_broker_users),
            parse_broker_tenants(settings.broker_tenants),
            _users(settings.api_broker_users),
        )

    def event_refusal(self, user_id: str | None, event_type: str, *, own_user: str) -> Refusal | None:
        """Why a job event of this type published by `user_id` must not be applied, or None.
        `own_user` is the checking projector's user, whose own `failed` events it believes."""
        if user_id == own_user and event_type in PROJECTOR_EVENTS:
            return None
        if user_id in self.api_users:
            if event_type in API_EVENTS:
                return None
            return Refusal(
                "forged_event",
                f"broker user {user_id!r} is the API's, which publishes only"
                f" {', '.join(sorted(API_EVENTS))} events, not {event_type!r}",
            )
        if user_id in self.platform_users:
            return None
        return Refusal(
            "forged_event",
            f"job events are accepted only from the platform's broker users; {user_id or 'no user'!r}"
            " is none of them (JOBS_PLATFORM_BROKER_USERS)",
        )

    def refusal(
        self, user_id: str | None, body: object, headers: Mapping[str, Any] | None = None
    ) -> Refusal | None:
        """Why a command published by `user_id` with this (JSON-decoded) body must not run,
        or None when it may. A body that is no JSON object is left to envelope validation."""
        forwarded = (headers or {}).get(FORWARDED_FOR_HEADER)
        if user_id in self.platform_users and forwarded is not None:
            user_id = forwarded.decode() if isinstance(forwarded, bytes) else str(forwarded)
        if not user_id:
            return Refusal(
                "missing_user_id",
                "the message has no AMQP user_id property: set it to your broker user",
            )
        if user_id in self.platform_users:
            return None
        tenant = self.tenants.get(user_id)
        if tenant is None:
            return Refusal(
                "unknown_publisher",
                f"broker user {user_id!r} is neither a platform service (JOBS_PLATFORM_BROKER_USERS)"
                " nor mapped to a tenant (JOBS_BROKER_TENANTS)",
            )
        named = body.get("tenant") if isinstance(body, dict) else tenant
        if named != tenant:
            return Refusal(
                "tenant_mismatch",
                f"broker user {user_id!r} publishes for tenant {tenant!r}; the message names {named!r}",
            )
        return None
