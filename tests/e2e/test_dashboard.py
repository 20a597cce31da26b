"""The dashboard in headless Chromium (Debian's, installed by `make system-packages`): submit a job
from the page, watch its progress bar reach 100% without reloading, open its result."""

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect
from redis.asyncio import Redis

from shared.readmodel import JobStore
from shared.schemas import SEQ_PER_ATTEMPT, Queued
from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import recorded_queued_only

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# `SCREENSHOTS=docs/screenshots make test-e2e` refreshes the README's pictures.
SCREENSHOTS = os.environ.get("SCREENSHOTS")
TEXT = "Grace Hopper worked on the Harvard Mark I in Cambridge with Howard Aiken.\n" * 120


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make system-packages` (Debian's chromium package)")
    return CHROMIUM


@pytest.fixture
async def page(stack: Stack, chromium: str) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        try:
            yield page
        finally:
            await browser.close()


async def _screenshot(page: Page, tmp_path: Path, name: str) -> None:
    await page.screenshot(path=tmp_path / name, full_page=False)
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        await page.screenshot(path=Path(SCREENSHOTS) / name, full_page=False)


async def _log_in(page: Page, stack: Stack, key: str) -> None:
    await page.goto(f"{stack.base_url}/ui/")
    await page.fill("#api-key", key)
    await page.click("#login button[type=submit]")


async def test_submit_watch_and_open_a_job(stack: Stack, page: Page, tmp_path: Path) -> None:
    await _log_in(page, stack, KEYS["alpha"])
    await expect(page.locator("#list-view")).to_be_visible()
    await expect(page.locator("#live-state")).to_have_text("live")
    await expect(page.locator('#queues tr[data-queue="ner.jobs"] td').nth(2)).not_to_have_text("0")

    await page.select_option("#operation", "ner.entities")
    await page.fill("#input", f'{{"text": {TEXT!r}}}'.replace("'", '"').replace("\n", "\\n"))
    await page.click("#submit")
    row = page.locator("#jobs tbody tr").first
    await expect(row.locator("td.operation")).to_have_text("ner.entities")
    job_id = await row.get_attribute("data-job-id")
    assert job_id
    # Only the live event stream can move the row to 100%: the page is never reloaded.
    await expect(row.locator("td.status")).to_have_text("succeeded", timeout=60_000)
    await expect(row.locator(".percent")).to_have_text("100%")
    await _screenshot(page, tmp_path, "dashboard-jobs.png")

    await row.locator("td.id a").click()
    await expect(page.locator("#job-view")).to_be_visible()
    await expect(page.locator("#job-status")).to_have_text("succeeded")
    await expect(page.locator("#job-percent")).to_have_text("100%")
    await expect(page.locator('#timeline li[data-event="succeeded"]')).to_have_count(1)
    assert await page.locator('#timeline li[data-event="progress"]').count() >= 2
    marks = page.locator("#entities mark")
    assert await marks.count() >= 120
    await expect(marks.first).to_contain_text("Grace Hopper")
    await expect(page.locator("#job-result")).to_contain_text('"entities"')
    await _screenshot(page, tmp_path, "dashboard-job.png")


async def test_cancel_from_the_table(stack: Stack, page: Page, redis: Redis) -> None:
    await _log_in(page, stack, KEYS["alpha"])
    await expect(page.locator("#live-state")).to_have_text("live")
    # A job recorded as queued that no worker will take: it appears through the live stream.
    queued = await recorded_queued_only(redis)
    row = page.locator(f'#jobs tr[data-job-id="{queued.job_id}"]')
    await expect(row.locator("td.status")).to_have_text("queued")
    await row.locator("button.cancel").click()
    await expect(row.locator("td.status")).to_have_text("cancelled")


async def test_another_tenants_job_and_a_wrong_key(stack: Stack, page: Page) -> None:
    await _log_in(page, stack, "not-a-key")
    await expect(page.locator("#login-error")).to_contain_text("not accepted")
    await expect(page.locator("#login")).to_be_visible()


def _csp_violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


async def test_the_pages_render_under_a_strict_content_security_policy(stack: Stack, page: Page) -> None:
    violations = _csp_violations(page)
    for path in ("/ui/", "/ui/app.js", "/asyncapi"):
        response = await page.request.get(f"{stack.base_url}{path}")
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy, path
        assert "'unsafe-inline'" not in policy, path
        # the viewer compiles schemas with eval: allowed only in a sandbox without our origin
        assert "'unsafe-eval'" not in policy or policy.startswith("sandbox allow-scripts;"), path
    await page.goto(f"{stack.base_url}/asyncapi")
    await expect(page.locator("#asyncapi")).to_contain_text("Jobs platform", timeout=30_000)
    await expect(page.locator("#asyncapi")).to_contain_text("invalid_envelope")  # the document, rendered
    storage = "(() => { try { return String(sessionStorage.length); } catch (e) { return 'blocked'; } })()"
    assert await page.evaluate(storage) == "blocked"
    await _log_in(page, stack, KEYS["alpha"])
    await expect(page.locator("#live-state")).to_have_text("live")
    await expect(page.locator("#queues-panel")).to_be_visible()  # alpha holds an admin key
    assert violations == []


async def test_a_job_id_with_markup_is_shown_as_text(stack: Stack, page: Page, redis: Redis) -> None:
    """The id pattern keeps such ids out (test_direct_publishers); were one in the read model,
    the page would still show it as text, and the policy would stop its script."""
    violations = _csp_violations(page)
    await _log_in(page, stack, KEYS["alpha"])
    await expect(page.locator("#live-state")).to_have_text("live")
    markup = '<img src=x onerror="document.body.dataset.owned=1">'
    queued = Queued.model_construct(
        schema_version="1",
        job_id=markup,
        tenant="alpha",
        operation="ner.entities",
        attempt=1,
        seq=SEQ_PER_ATTEMPT,
        at=datetime.now(UTC),
        job_created_at=None,
        type="queued",
    )
    try:
        await JobStore(redis).apply(queued)
        await expect(page.locator("#jobs td.id code").filter(has_text=markup)).to_have_count(1)
        assert await page.locator("#jobs img").count() == 0
        assert await page.evaluate("document.body.dataset.owned") is None
    finally:
        await redis.delete(f"jobs:job:{markup}")
    assert violations == []


async def test_without_an_admin_key_there_is_no_queue_panel(stack: Stack, page: Page) -> None:
    await _log_in(page, stack, KEYS["beta"])
    await expect(page.locator("#live-state")).to_have_text("live")
    await expect(page.locator("#queues-panel")).to_be_hidden()
