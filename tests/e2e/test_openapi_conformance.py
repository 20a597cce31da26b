"""The OpenAPI document says exactly what the running API does.

Schemathesis reads `/openapi.json` from the API process of the e2e stack and, for every
operation, sends the schema's examples, the coverage cases (boundaries, missing and wrong
parameters, unexpected methods) and fuzzed requests, as a tenant of its own, with every check
on: no 5xx, only documented statuses, headers and bodies, schema-valid requests accepted,
schema-invalid ones refused, `Allow` on a 405 listing the path's methods. Settings (seeded,
deterministic, about a minute) are in `conformance/schemathesis.toml`.

It runs as schemathesis' own command line, the interface the security review used: its report
names each failure with a `curl` line that reproduces it. (Its pytest loader for a fixture-made
schema fails on pytest 9.2, which dropped the `_nodeid` it sets.)
"""

import asyncio
import os
import re
import sys

import httpx
import pytest

from tests.e2e.conftest import KEYS, Stack
from tests.support.chat_server import Reply, ScriptedChatServer
from tools.devstack import ROOT

pytestmark = pytest.mark.e2e

CONFIG = ROOT / "tests" / "e2e" / "conformance" / "schemathesis.toml"
MIN_CASES = 400
"""About 600 requests are generated today; far fewer means the run tested much less."""


@pytest.mark.timeout(300)
async def test_the_api_does_what_its_openapi_document_says(
    stack: Stack, chat_server: ScriptedChatServer
) -> None:
    chat_server.reset(lambda request: Reply('{"summary": "generated"}'))
    env = {
        **os.environ,
        "API_KEY": KEYS["conformance"],
        "SCHEMATHESIS_HOOKS": "tests.e2e.conformance.hooks",
        "NO_COLOR": "1",
    }
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{stack.base_url}/openapi.json",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await run.communicate()
    report = output.decode(errors="replace")
    print(report)  # shown with `pytest -rP`; a failure carries it in the assertion
    assert run.returncode == 0, report
    generated = re.search(r"(\d+) generated", report)
    assert generated is not None, report
    assert int(generated.group(1)) >= MIN_CASES, report
    # The jobs it got accepted all end, as every accepted job must, before the next test.
    async with stack.client("conformance") as client:
        deadline = asyncio.get_running_loop().time() + 120
        while unfinished := await _unfinished_jobs(client):
            assert asyncio.get_running_loop().time() < deadline, f"never ended: {unfinished}"
            await asyncio.sleep(1)


async def _unfinished_jobs(client: httpx.AsyncClient) -> list[str]:
    unfinished = []
    for status in ("queued", "running"):
        page = await client.get("/v1/jobs", params={"status": status, "limit": 200})
        assert page.status_code == 200, page.text
        unfinished += [job["id"] for job in page.json()["items"]]
    return unfinished
