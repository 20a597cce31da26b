"""API keys: `Authorization: Bearer <key>` maps to one tenant."""

import hmac

from fastapi import HTTPException, Request, status

__all__ = ["MIN_KEY_LENGTH", "ApiKeys", "parse_api_keys"]

MIN_KEY_LENGTH = 16
"""Characters. `secrets.token_urlsafe(16)` gives 22; a short key can be guessed."""


def parse_api_keys(spec: str) -> dict[str, str]:
    """`tenant1:key1,tenant2:key2` -> {key: tenant}; raises ValueError on a malformed entry.
    The messages name the entry's position and tenant, never a key: they end up in logs."""
    keys: dict[str, str] = {}
    for number, item in enumerate(filter(None, (part.strip() for part in spec.split(","))), 1):
        tenant, sep, key = item.partition(":")
        if not sep or not tenant or not key:
            raise ValueError(f"JOBS_API_KEYS entry {number} is not of the form tenant:key")
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(
                f"JOBS_API_KEYS entry {number} (tenant {tenant!r}): the key is shorter than "
                f"{MIN_KEY_LENGTH} characters"
            )
        if key in keys and keys[key] != tenant:
            raise ValueError(f"JOBS_API_KEYS gives one key to tenants {keys[key]!r} and {tenant!r}")
        keys[key] = tenant
    return keys


class ApiKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = keys

    def tenant_for(self, key: str) -> str | None:
        found = None
        for known, tenant in self._keys.items():  # compare all, in constant time each
            if hmac.compare_digest(known.encode(), key.encode()):
                found = tenant
        return found

    def authenticate(self, request: Request, query_token: str | None = None) -> str:
        """The caller's tenant, from the Authorization header or, for browser
        EventSource/WebSocket clients that cannot set headers, an `access_token` query."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            key = query_token or ""
        tenant = self.tenant_for(key.strip()) if key else None
        if tenant is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or unknown API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return tenant
