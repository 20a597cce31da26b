"""OCR throughput: the whole system versus the engine called directly, on the same pages.

`make bench-ocr` (options: `python scripts/bench_ocr.py --pages 12 --jobs 2`). Needs
RabbitMQ and Redis like the tests (TEST_AMQP_URL / TEST_REDIS_URL, else the local
`jobs-test` vhost and Redis database 15). Starts the API, the projector and the OCR
worker as processes, uploads one scanned PDF, runs `--jobs` OCR jobs on it at once
and times them from submission to the last result. The direct figure renders the
same PDF pages and calls the engine on them in this process, one page at a time.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.ocr.engines import RapidOcrEngine
from services.ocr.settings import OcrSettings
from shared.documents import PdfDocument
from tests.support import ocr_samples
from tests.support.infra import provide_infra
from tools.devstack import ServiceProcess, free_port, wait_ready

KEY = "bench-key-0123456789"


def direct(pdf: bytes, dpi: int) -> tuple[int, float]:
    engine = RapidOcrEngine(threads=1)
    document = PdfDocument(pdf, max_pages=10_000, max_pixels=60_000_000, dpi=dpi)
    started = time.perf_counter()
    for index in range(document.pages):
        page = document.page(index)
        assert page.image is not None
        engine.recognize(page.image)
    return document.pages, time.perf_counter() - started


async def through_the_system(pdf: bytes, jobs: int, base_url: str) -> float:
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as api:
        upload = await api.post("/v1/files", files={"file": ("bench.pdf", pdf, "application/pdf")})
        upload.raise_for_status()
        file_id = upload.json()["id"]
        started = time.perf_counter()
        ids = []
        for _ in range(jobs):
            response = await api.post(
                "/v1/jobs", json={"operation": "ocr.pdf", "input": {"file_id": file_id}}
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        pending = set(ids)
        while pending:
            for job_id in list(pending):
                view = (await api.get(f"/v1/jobs/{job_id}")).json()
                if view["status"] == "failed":
                    raise RuntimeError(f"job {job_id} failed: {view['error']}")
                if view["status"] == "succeeded":
                    pending.discard(job_id)
            await asyncio.sleep(0.05)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=12, help="scanned pages in the PDF")
    parser.add_argument("--jobs", type=int, default=2, help="OCR jobs on that PDF submitted at once")
    args = parser.parse_args()
    paragraphs = tuple(ocr_samples.PARAGRAPHS[i % len(ocr_samples.PARAGRAPHS)] for i in range(args.pages))
    pdf = ocr_samples.scanned_pdf(paragraphs).data
    settings = OcrSettings()

    pages, seconds = direct(pdf, settings.render_dpi)
    direct_rate = pages / seconds

    with (
        provide_infra() as infra,
        tempfile.TemporaryDirectory() as files,
        tempfile.TemporaryDirectory() as logs,
    ):
        port = free_port()
        env = {
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "JOBS_API_KEYS": f"bench:{KEY}",
            "API_PORT": str(port),
            "STORAGE_BACKEND": "local",
            "STORAGE_DIR": files,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        services = [ServiceProcess(name, env, Path(logs)).start() for name in ("projector", "ocr", "api")]
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(base_url, services[2])
            # the worker loads its model before it consumes: a warm-up job waits for that
            asyncio.run(through_the_system(ocr_samples.scanned_pdf(paragraphs[:1]).data, 1, base_url))
            system_seconds = asyncio.run(through_the_system(pdf, args.jobs, base_url))
        finally:
            for service in services:
                service.stop()
    system_rate = args.jobs * pages / system_seconds

    print(f"\n{'':34}{'pages':>8}{'seconds':>10}{'pages/s':>10}")
    print(f"{'engine directly (1 page at a time)':34}{pages:>8}{seconds:>10.2f}{direct_rate:>10.2f}")
    print(
        f"{f'whole system ({args.jobs} jobs, OCR_CONCURRENCY={settings.concurrency})':34}"
        f"{args.jobs * pages:>8}{system_seconds:>10.2f}{system_rate:>10.2f}"
    )
    print(f"\nsystem / direct: {system_rate / direct_rate:.2f}x  (os.cpu_count() = {os.cpu_count()})")


if __name__ == "__main__":
    main()
