"""The broker contract: `asyncapi.yaml` as generated, and a page that renders it.

The page's script and styles are the AsyncAPI React viewer, copied into
`services/api/static/asyncapi/` by `make asyncapi-viewer` (no CDN: works offline).
"""

import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from services.api.page_security import viewer_policy
from services.api.responses import error_responses

__all__ = ["ASYNCAPI_PATH", "VIEWER_DIR", "router"]

ROOT = Path(__file__).resolve().parents[3]
ASYNCAPI_PATH = ROOT / "asyncapi.yaml"
VIEWER_DIR = Path(__file__).resolve().parents[1] / "static" / "asyncapi"

router = APIRouter(tags=["contract"])

# Relative URLs, so the page also works behind a path prefix. The document is in the page
# itself: the page runs sandboxed (see page_security.py), so it could not fetch it.
_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Jobs platform: broker contract (AsyncAPI)</title>
  <link rel="stylesheet" href="asyncapi/assets/asyncapi-react.css">
</head>
<body>
  <div id="asyncapi"><noscript>This page needs JavaScript; the document itself is
    <a href="asyncapi.yaml">asyncapi.yaml</a>.</noscript></div>
  <script src="asyncapi/assets/asyncapi-react.js"></script>
  <script>{script}</script>
</body>
</html>
"""
_RENDER = """
    AsyncApiStandalone.render(
      {{schema: {document}, config: {{show: {{sidebar: true}}}}}},
      document.getElementById("asyncapi"),
    );
  """


@cache
def _page() -> tuple[str, str]:
    """The page and its one inline script, built once: asyncapi.yaml is part of the build."""
    # As a JS string literal; `<\/` so that no `</script>` inside can end the element.
    document = json.dumps(ASYNCAPI_PATH.read_text()).replace("</", "<\\/")
    script = _RENDER.format(document=document)
    return _PAGE.format(script=script), script


@router.get(
    "/asyncapi.yaml",
    summary="The AsyncAPI document: every exchange, queue and message on the broker",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/yaml": {}}},
        **error_responses(meaning={404: "The file is missing from this build"}),
    },
)
async def asyncapi_document() -> FileResponse:
    if not ASYNCAPI_PATH.is_file():
        raise HTTPException(404, "asyncapi.yaml is missing from this build (run `make asyncapi`)")
    return FileResponse(ASYNCAPI_PATH, media_type="application/yaml")


@router.get("/asyncapi", summary="The AsyncAPI document, rendered", response_class=HTMLResponse)
async def asyncapi_page() -> HTMLResponse:
    if not ASYNCAPI_PATH.is_file():
        raise HTTPException(404, "asyncapi.yaml is missing from this build (run `make asyncapi`)")
    page, script = _page()
    return HTMLResponse(page, headers={"Content-Security-Policy": viewer_policy(script)})
