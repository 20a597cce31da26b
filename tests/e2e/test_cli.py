"""The `jobs` command, as installed by `make install`, against the running stack."""

import asyncio
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import recorded_queued_only

JOBS = Path(sys.executable).parent / "jobs"  # the console script of [project.scripts]
TEXT = "Grace Hopper worked on the Harvard Mark I in Cambridge.\n" * 100  # 3 chunks of 2000 chars


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def jobs(stack: Stack, *args: str, within: float = 60) -> Ran:
    env = {"JOBS_API_URL": stack.base_url, "JOBS_API_KEY": KEYS["alpha"], "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        str(JOBS), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), within)
    assert proc.returncode is not None
    return Ran(proc.returncode, stdout.decode(), stderr.decode())


async def test_submit_follow_prints_the_result(stack: Stack, alpha: httpx.AsyncClient) -> None:
    ran = await jobs(stack, "submit", "ner.entities", "--text", TEXT, "--follow")
    assert ran.code == 0, ran.stderr
    job_id = ran.stderr.split("job ", 1)[1].split()[0]
    stored = (await alpha.get(f"/v1/jobs/{job_id}")).json()
    assert stored["status"] == "succeeded"
    assert ran.json() == stored["result"]
    assert len(stored["result"]["entities"]) >= 100
    assert "100%" in ran.stderr  # the progress bar's last state

    status = await jobs(stack, "status", job_id, "--json")
    assert status.code == 0
    assert status.json()["status"] == "succeeded"
    listed = await jobs(stack, "list", "--status", "succeeded", "--json")
    assert job_id in [j["id"] for j in listed.json()]
    assert all(j["status"] == "succeeded" for j in listed.json())


async def test_result_to_a_file(stack: Stack, alpha: httpx.AsyncClient, tmp_path: Path) -> None:
    job_id = (await jobs(stack, "submit", "ner.entities", "--input", '{"text": "Oslo is in Norway."}')).stdout
    job_id = job_id.strip()
    for _ in range(100):
        ran = await jobs(stack, "result", job_id, "--output", str(tmp_path / "r.json"))
        if ran.code != 5:  # not finished yet
            break
        await asyncio.sleep(0.2)
    assert ran.code == 0, ran.stderr
    written = json.loads((tmp_path / "r.json").read_text())
    assert written == (await alpha.get(f"/v1/jobs/{job_id}")).json()["result"]
    assert {e["text"] for e in written["entities"]} == {"Oslo", "Norway"}


async def test_a_failed_job_exits_non_zero(stack: Stack) -> None:
    missing = str(uuid.uuid4())
    ran = await jobs(stack, "submit", "llm.summarize", "--input", json.dumps({"job_id": missing}), "-f")
    assert ran.code == 1
    assert "source_job_not_found" in ran.stderr
    assert ran.stdout == ""
    job_id = ran.stderr.split("job ", 1)[1].split()[0]
    assert (await jobs(stack, "status", job_id)).code == 1
    assert (await jobs(stack, "result", job_id)).code == 1


async def test_watch_and_cancel_a_queued_job(stack: Stack, redis: Redis) -> None:
    # Recorded as queued and never published: it stays queued until cancelled.
    queued = await recorded_queued_only(redis)
    watched = await jobs(stack, "watch", "--interval", "0.3", "--timeout", "1")
    assert watched.code == 0, watched.stderr
    assert queued.job_id in watched.stdout

    cancelled = await jobs(stack, "cancel", queued.job_id)
    assert cancelled.code == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout
    assert (await jobs(stack, "status", queued.job_id)).code == 3
    again = await jobs(stack, "cancel", queued.job_id)
    assert again.code == 4
    assert "409" in again.stderr


async def test_wrong_key_and_unknown_operation_exit_4(stack: Stack) -> None:
    ran = await jobs(stack, "--api-key", "nope", "list")
    assert ran.code == 4
    assert "401" in ran.stderr
    ran = await jobs(stack, "submit", "no.such", "--text", "x")
    assert ran.code == 4
    assert "unknown operation" in ran.stderr
