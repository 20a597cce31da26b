"""Tenant isolation: one tenant never sees another's jobs."""

import httpx
import pytest
import websockets

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import submit

pytestmark = pytest.mark.e2e


async def test_tenants_cannot_see_each_other(
    stack: Stack, alpha: httpx.AsyncClient, beta: httpx.AsyncClient
) -> None:
    job = await submit(alpha, "Marie Curie lived in Paris.")
    for path in (f"/v1/jobs/{job['id']}", f"/v1/jobs/{job['id']}/events"):
        foreign = await beta.get(path)
        unknown = await beta.get(path.replace(job["id"], "00000000-0000-0000-0000-000000000000"))
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json() == unknown.json()
    listed = (await beta.get("/v1/jobs", params={"limit": 200})).json()
    assert job["id"] not in {j["id"] for j in listed["items"]}
    url = stack.base_url.replace("http://", "ws://") + f"/v1/jobs/{job['id']}/ws?access_token={KEYS['beta']}"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404
