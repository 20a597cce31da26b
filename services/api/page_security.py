"""Content-Security-Policy for the browser pages, `/ui` (the dashboard) and `/asyncapi`.

The dashboard holds an API key in its tab: scripts, styles and connections only from this
origin, nothing inline, no eval, no plugins, no framing, no other base URL. A script
smuggled in through data could neither run nor send the key anywhere.

The AsyncAPI viewer (a bundled React component) compiles JSON Schemas with `new Function`,
so it needs `'unsafe-eval'`. Its page is therefore sandboxed: an opaque origin that can
read no key, no storage and no API of this origin, with the document inlined (its one
inline script allowed by hash) since a sandboxed page cannot fetch it either.
"""

import base64
import hashlib

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DASHBOARD_POLICY", "PageSecurity", "viewer_policy"]

_COMMON = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
DASHBOARD_POLICY = f"{_COMMON}; script-src 'self'; connect-src 'self'; form-action 'self'"


def viewer_policy(inline_script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(inline_script.encode()).digest()).decode()
    scripts = f"script-src 'self' 'unsafe-eval' 'sha256-{digest}'"
    return f"sandbox allow-scripts; {_COMMON}; {scripts}; form-action 'none'"


class PageSecurity:
    """Pure ASGI, so that streamed answers stay unbuffered. A route that sets its own
    policy (the AsyncAPI page) keeps it; every other answer under the pages gets the
    dashboard's."""

    _PAGES = ("/ui", "/asyncapi")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self._PAGES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", DASHBOARD_POLICY)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_headers)
