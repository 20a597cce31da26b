"""The broker contract: `asyncapi.yaml` as generated, and a page that renders it.

The page's script and styles are the AsyncAPI React viewer, copied into
`services/api/static/asyncapi/` by `make asyncapi-viewer` (no CDN: works offline).
"""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from services.api.responses import error_responses

__all__ = ["ASYNCAPI_PATH", "VIEWER_DIR", "router"]

ROOT = Path(__file__).resolve().parents[3]
ASYNCAPI_PATH = ROOT / "asyncapi.yaml"
VIEWER_DIR = Path(__file__).resolve().parents[1] / "static" / "asyncapi"

router = APIRouter(tags=["contract"])

# Relative URLs, so the page also works behind a path prefix.
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
  <script>
    AsyncApiStandalone.render(
      {schema: {url: "asyncapi.yaml", options: {}}, config: {show: {sidebar: true}}},
      document.getElementById("asyncapi"),
    );
  </script>
</body>
</html>
"""


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
    return HTMLResponse(_PAGE)
