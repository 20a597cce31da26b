"""A job cancelled while queued never starts."""

import httpx
import pytest

from shared.schemas.topology import NER_QUEUE
from tests.e2e.conftest import Stack
from tests.e2e.helpers import final_status, follow, submit
from tests.faults.helpers import history

pytestmark = pytest.mark.faults


async def test_a_cancelled_queued_job_never_starts(fault_stack: Stack, alpha: httpx.AsyncClient) -> None:
    ner = fault_stack.services["ner"]
    ner.stop()
    try:
        job = await submit(alpha, "Toyota opened an office in Madrid.")
        cancel = await alpha.post(f"/v1/jobs/{job['id']}/cancel")
        assert cancel.status_code == 202
        assert cancel.json()["status"] == "cancelled"
    finally:
        ner.start()
    await fault_stack.wait_consuming(NER_QUEUE.name)
    after = await submit(alpha, "Nestle is based in Switzerland.")
    assert final_status(await follow(alpha, after["id"])) == "succeeded"
    # Neither `started` nor a terminal event carrying started_at (a short attempt's only event).
    assert not {"started", "succeeded", "failed"} & set(await history(alpha, job["id"]))
    assert (await alpha.post(f"/v1/jobs/{job['id']}/cancel")).status_code == 409
