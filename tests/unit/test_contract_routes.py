"""The API serves the broker contract and a page that renders it, with no third-party host."""

import re

from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.routes.contract import ASYNCAPI_PATH
from services.api.settings import ApiSettings


def client() -> TestClient:
    # Without `with`, the lifespan (broker, Redis) does not run: these routes need neither.
    return TestClient(create_app(ApiSettings(api_keys="t:k-0123456789abcdef")))


def test_asyncapi_yaml_is_the_generated_file() -> None:
    response = client().get("/asyncapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.content == ASYNCAPI_PATH.read_bytes()


def test_the_page_loads_only_bundled_assets_and_they_are_served_compressed() -> None:
    http = client()
    page = http.get("/asyncapi")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "asyncapi/assets/asyncapi-react.js" in assets
    assert "asyncapi/assets/asyncapi-react.css" in assets
    assert not [a for a in assets if "//" in a], "the page must not load anything from another host"
    assert "AsyncApiStandalone.render" in page.text
    script = http.get("/asyncapi/assets/asyncapi-react.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200
    assert script.headers["content-encoding"] == "gzip"
    assert "AsyncApiStandalone" in script.text[:1000]
    assert http.get("/asyncapi/assets/asyncapi-react.css").status_code == 200


def test_docs_link_to_the_contract() -> None:
    description = client().get("/openapi.json").json()["info"]["description"]
    assert "(/asyncapi)" in description
    assert "(/asyncapi.yaml)" in description
