"""Idempotency keys (shared/submissions.py), against the real Redis."""

import pytest
from redis.asyncio import Redis

from shared.submissions import SubmissionLedger

pytestmark = pytest.mark.integration


async def test_a_key_binds_to_the_first_job_until_forgotten(redis: Redis, tenant: str) -> None:
    ledger = SubmissionLedger(redis)
    assert await ledger.remember(tenant, "k", "job-1", "fp", 60) is None
    assert await ledger.remember(tenant, "k", "job-2", "fp2", 60) == ("job-1", "fp")
    assert await ledger.remember(f"{tenant}-other", "k", "job-9", "fp", 60) is None  # keys are per tenant
    await ledger.forget(tenant, "k")
    assert await ledger.remember(tenant, "k", "job-3", "fp", 60) is None
