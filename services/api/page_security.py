"""Headers that make the browser pages (`/ui`, `/asyncapi`) safe to open with a key in the tab.

A strict Content-Security-Policy: scripts, styles and data only from this origin, nothing
inline except the one script of the AsyncAPI page (allowed by its hash), no plugins, no
framing, no other base URL. A script injected through data could neither run nor send the
key anywhere else."""

import base64
import hashlib

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PageSecurity", "content_security_policy"]

_PAGES = ("/ui", "/asyncapi")


def content_security_policy(*inline_scripts: str) -> str:
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline_scripts
    )
    return (
        "default-src 'none'; "
        f"script-src 'self'{hashes}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'self'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


class PageSecurity:
    """Pure ASGI, so that streamed answers stay unbuffered."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(_PAGES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.policy
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_headers)
