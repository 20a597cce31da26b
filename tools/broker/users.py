"""`python -m tools.broker.users` (`make broker-users`): one broker user per service and per
direct-publisher tenant, each with only the permissions it needs (tools/broker/permissions.py).

Idempotent: a missing user is created, an existing one keeps its password unless
`BROKER_PASSWORD_<USER>` is set (user upper-cased, `-` and `.` as `_`), and every
user's permissions on the vhost are set to exactly what they should be. A new user
without a given password gets a random one, printed once.
"""

import argparse
import os
import re
import secrets
import sys

from shared.identity import IdentitySettings, parse_broker_tenants
from tools.asyncapi.subscribers import discover_subscriptions
from tools.asyncapi.topology import declared_topology
from tools.broker.permissions import API_SERVICE, Grant, grants, service_user
from tools.broker.rabbitmqctl import Rabbitmqctl

__all__ = ["apply_grants", "password_variable"]


def password_variable(user: str) -> str:
    return "BROKER_PASSWORD_" + re.sub(r"[^A-Za-z0-9]", "_", user).upper()


def apply_grants(ctl: Rabbitmqctl, vhost: str, wanted: list[Grant]) -> dict[str, str]:
    """Create or update the users; return the passwords of users created with a random one."""
    existing = ctl.users()
    generated: dict[str, str] = {}
    for grant in wanted:
        given = os.environ.get(password_variable(grant.user))
        if grant.user not in existing:
            password = given or secrets.token_urlsafe(24)
            ctl.add_user(grant.user, password)
            if not given:
                generated[grant.user] = password
        elif given:
            ctl.change_password(grant.user, given)
        ctl.set_permissions(vhost, grant.user, grant.configure, grant.write, grant.read)
    return generated


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vhost", default=os.environ.get("BROKER_VHOST", "/"))
    parser.add_argument("--dry-run", action="store_true", help="print the permissions, change nothing")
    args = parser.parse_args()
    tenants = parse_broker_tenants(IdentitySettings().broker_tenants)
    wanted = grants(declared_topology(), discover_subscriptions(), tenants)
    for g in wanted:
        print(f"{g.user:24} {g.role:22} configure={g.configure} write={g.write} read={g.read}")
    if args.dry_run:
        return 0
    generated = apply_grants(Rabbitmqctl(), args.vhost, wanted)
    for user, password in generated.items():
        print(f"created {user} with password {password} (shown once; store it as {password_variable(user)})")
    platform = ",".join(g.user for g in wanted if g.platform)
    print(f"\nSet JOBS_PLATFORM_BROKER_USERS={platform} on the workers and the projector (the users that")
    print("publish commands), and JOBS_API_BROKER_USERS=" + service_user(API_SERVICE) + " on the projector")
    print("(the API's user, which may publish only queued and cancelled events).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
