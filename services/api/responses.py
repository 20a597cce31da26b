"""What routes answer, declared once for the OpenAPI document: each error status and what it
means, the `Location` and links of what a route creates; and the `Allow` header of a 405
(every method of the path, not only those of the route Starlette happened to match first).

`422` is not in the table: FastAPI documents it (its validation-error list) on every route
that takes parameters or a body, and every 422 this API answers has that shape."""

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

__all__ = ["ErrorDetail", "created", "error_responses", "field_error", "link", "method_not_allowed"]


class ErrorDetail(BaseModel):
    detail: str


def _header(description: str, *, required: bool = False, type_: str = "string") -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": type_}}


_RETRY_AFTER = _header("Seconds to wait before trying again.", type_="integer")

_ERRORS: dict[int, dict[str, Any]] = {
    400: {"description": "A body that cannot be parsed (not UTF-8 JSON, or broken multipart)"},
    401: {
        "description": "Missing or unknown API key",
        "headers": {"WWW-Authenticate": _header("`Bearer`", required=True)},
    },
    403: {"description": "The key's tenant is not in API_ADMIN_TENANTS (admin keys only)"},
    404: {"description": "Not found for the caller's tenant (another tenant's answers the same)"},
    409: {"description": "Conflicts with the resource's current state"},
    410: {"description": "Gone: existed, is no longer stored"},
    413: {"description": "Request body over the size limit"},
    415: {"description": "Not a supported file type (judged from the bytes)"},
    429: {
        "description": "A limit of the caller's tenant is reached",
        "headers": {"Retry-After": _RETRY_AFTER},
    },
    503: {
        "description": "A backing service (Redis, the broker or file storage) is unavailable",
        "headers": {"Retry-After": _RETRY_AFTER},
    },
}


def error_responses(*codes: int, meaning: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses and for those `meaning` says, in this
    route's words, what they mean here."""
    meaning = meaning or {}
    return {
        code: {
            "model": ErrorDetail,
            **_ERRORS[code],
            **({"description": meaning[code]} if code in meaning else {}),
        }
        for code in sorted({*codes, *meaning})
    }


def created(what: str, **links: dict[str, Any]) -> dict[str, Any]:
    """The answer of a route that creates something: its URL in `Location`, links to what can
    be done with it next."""
    return {"headers": {"Location": _header(f"The {what}'s URL.", required=True)}, "links": links}


def link(method: str, path: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to the operation `method path`, its parameters taken from this answer."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method.lower()}", "parameters": parameters}


def field_error(loc: tuple[str, ...], type_: str, msg: str, value: Any) -> RequestValidationError:
    """A 422 naming the field, in the shape of FastAPI's own validation errors."""
    return RequestValidationError([{"type": type_, "loc": loc, "msg": msg, "input": value}])


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route fully matches on this path: asked of the routes themselves, as
    the router asks them, so included routers (however FastAPI nests them) answer too."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 for a path that exists, listing in `Allow` the methods of every route on it."""
    detail = exc.detail if isinstance(exc, HTTPException) else "Method Not Allowed"
    return JSONResponse(
        {"detail": detail}, status_code=405, headers={"Allow": ", ".join(_allowed_methods(request))}
    )
