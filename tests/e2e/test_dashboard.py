"""The dashboard in headless Chromium (Debian's, installed by `make system-packages`): submit a job
from the page, watch its progress bar reach 100% without reloading, open its result; fill a
collection with a PDF, watch it indexed page by page, ask it a question and follow a source to
its page."""

import asyncio
import io
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
from playwright.async_api import FilePayload, Frame, Page, async_playwright, expect
from redis.asyncio import Redis

from shared.readmodel import JobStore
from shared.schemas import SEQ_PER_ATTEMPT, Queued
from tests.e2e.conftest import KEYS, Stack
from tests.e2e.helpers import recorded_queued_only
from tests.e2e.test_rag import PAGES
from tests.support import ocr_samples
from tests.support.chat_server import Reply, ScriptedChatServer

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


MARKUP = "<img src=x onerror=document.body.dataset.owned=1>"
"""Without quotes: a browser sends a file name's `"` as `%22` in a multipart body."""
# Every text #answer shows, in order (a MutationObserver, installed by the test, not the page).
WATCH_ANSWER = """() => {
  window.answerTexts = [];
  const answer = document.querySelector("#answer");
  new MutationObserver(() => {
    const text = answer.textContent;
    if (text && window.answerTexts.at(-1) !== text) window.answerTexts.push(text);
  }).observe(answer, { childList: true, characterData: true, subtree: true });
}"""


PDF_VIEWER = "mhjfbmdgcfjbbpaeojofohoefgiehjai"
"""Chromium's PDF viewer extension id: a PDF it shows sits in a frame of this origin."""


def _page_text(pdf: bytes, number: int) -> str:
    document = pdfium.PdfDocument(io.BytesIO(pdf))
    try:
        return str(document[number - 1].get_textpage().get_text_range())
    finally:
        document.close()


async def _pdf_viewer(tab: Page) -> Frame:
    """The frame of Chromium's PDF viewer (a component extension) in a tab that shows a PDF."""
    for _ in range(150):
        for frame in tab.frames:
            if frame.url.startswith(f"chrome-extension://{PDF_VIEWER}/"):
                return frame
        await asyncio.sleep(0.1)
    raise AssertionError(f"no PDF viewer in the tab: {[f.url for f in tab.frames]}")


async def test_a_collection_from_upload_to_a_cited_answer(
    stack: Stack, page: Page, chat_server: ScriptedChatServer, alpha: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Upload a three-page PDF into a new collection, see each page indexed, ask what the rent
    is (page 2), watch the answer grow, open the source's page in a new tab without the key,
    remove the file, see the errors of asking an empty collection and of a bad top_k, delete the
    collection. The file name and the answer carry markup: shown as text, never run."""
    violations = _csp_violations(page)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() of Remove and Delete
    name = f"dash-{uuid.uuid4().hex[:12]}"
    pdf = ocr_samples.born_digital_pdf(PAGES).data
    filename = f"lease {MARKUP}.pdf"
    answer = f"Rent is 4,200 euros per month [1], paid quarterly in advance. {MARKUP}"
    chat_server.reset(lambda request: Reply(text=answer, chunk_delay=0.05))

    await _log_in(page, stack, KEYS["alpha"])
    await expect(page.locator("#list-view")).to_be_visible()
    await page.click("#nav-collections")
    await expect(page.locator("#collections-view")).to_be_visible()
    await page.fill("#new-collection-name", "Not A Name")
    await page.click("#new-collection button[type=submit]")
    await expect(page.locator("#new-collection-error")).to_contain_text("lower-case letters")
    await page.fill("#new-collection-name", name)
    chosen: FilePayload = {"name": filename, "mimeType": "application/pdf", "buffer": pdf}
    await page.set_input_files("#new-collection-files", files=[chosen])
    await page.click("#new-collection button[type=submit]")

    await expect(page.locator("#collection-view")).to_be_visible()
    await expect(page.locator("#collection-name")).to_have_text(name)
    upload = page.locator("#uploads li.upload")
    await expect(upload.locator(".name")).to_have_text(filename)
    await expect(upload).to_have_attribute("data-state", "succeeded", timeout=120_000)
    boxes = upload.locator("ol.pages li.done")
    await expect(boxes).to_have_count(3)
    # each box's title comes from that page's own progress event (the final result sets none)
    for number in (1, 2, 3):
        await expect(boxes.nth(number - 1)).to_have_attribute("title", re.compile(r"^\d+ chunks?$"))
    await expect(upload.locator(".message")).to_have_text(re.compile(r"^3 pages, \d+ chunks$"))
    file_id = await upload.get_attribute("data-file-id")
    assert file_id
    row = page.locator(f'#collection-files tr[data-file-id="{file_id}"]')
    await expect(row.locator("td.file")).to_have_text(filename)
    await expect(row.locator("td.pages")).to_have_text("3")
    await expect(page.locator("#collection-summary")).to_have_text(
        re.compile(r"^1 file, 3 pages, \d+ chunks$")
    )

    await page.evaluate(WATCH_ANSWER)
    await page.fill("#question", "How much is the monthly rent?")
    await page.click("#ask")
    await expect(page.locator("#answer-status")).to_have_text("answered", timeout=60_000)
    await expect(page.locator("#answer")).to_have_text(answer)
    await expect(page.locator("#answer-model")).to_contain_text("scripted-model")
    shown = await page.evaluate("window.answerTexts")
    assert len(shown) >= 3, shown  # it grew while the model wrote it
    assert all(answer.startswith(text) for text in shown), shown
    assert shown[-1] == answer

    source = page.locator("#sources li").first
    await expect(source).to_have_attribute("data-page", "2")
    await expect(source).to_have_attribute("data-file-id", file_id)
    await expect(source.locator(".file-name")).to_have_text(filename)
    await expect(source.locator("blockquote")).to_contain_text("4,200 euros")
    await expect(source.locator(".score")).to_have_text(re.compile(r"^score -?[01]\.\d{3}$"))
    link = source.locator("a.source-link")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute(
        "href", re.compile(rf"^/v1/files/{file_id}/content\?ticket=[A-Za-z0-9_-]+#page=2$")
    )
    href = await link.get_attribute("href")
    assert href
    assert KEYS["alpha"] not in href
    await _screenshot(page, tmp_path, "dashboard-collection.png")
    # What the new tab loads: the PDF itself, with no key (a tab cannot send one), page 2 the cited one.
    async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
        opened = await anonymous.get(href.split("#")[0])
        assert opened.status_code == 200, opened.text
        assert opened.headers["content-type"] == "application/pdf"
        assert opened.headers["content-disposition"].startswith("inline")
        assert opened.content == pdf
        assert "4,200 euros" in _page_text(opened.content, 2)
        assert (await anonymous.get(f"/v1/files/{file_id}/content")).status_code == 401
    async with page.context.expect_page() as tab_opening:
        await link.click()
    tab = await tab_opening.value
    assert tab.url == f"{stack.base_url}{href}"
    # shown by Chromium's PDF viewer (not downloaded), at the cited page
    viewer = await _pdf_viewer(tab)
    await expect(viewer.locator("#pageSelector")).to_have_value("2", timeout=15_000)
    await tab.close()

    # back to the list: the collection is there; open it again
    await page.click("#collection-view a[href='#/collections']")
    listed = page.locator(f'#collections tr[data-collection="{name}"]')
    await expect(listed.locator("td.files")).to_have_text("1")
    await expect(listed.locator("td.pages")).to_have_text("3")
    await listed.locator("td.name a").click()
    await expect(page.locator("#collection-name")).to_have_text(name)

    await page.locator(f'#collection-files tr[data-file-id="{file_id}"] button.remove').click()
    await expect(page.locator("#collection-files tbody tr")).to_have_count(0)
    await expect(page.locator("#collection-summary")).to_have_text("0 files, 0 pages, 0 chunks")
    await expect(page.locator("#collection-error")).to_have_text("")
    assert (await alpha.get(f"/v1/collections/{name}")).json()["files"] == []

    await page.fill("#top-k", "0")
    await page.click("#ask")
    await expect(page.locator("#ask-error")).to_contain_text("input.top_k")  # the 422, in words
    await page.fill("#top-k", "5")
    await page.click("#ask")
    await expect(page.locator("#answer-status")).to_have_text("failed", timeout=60_000)
    await expect(page.locator("#ask-error")).to_contain_text("collection_empty: ")

    await page.click("#collection-delete")
    await expect(page.locator("#collections-view")).to_be_visible()
    await expect(page.locator(f'#collections tr[data-collection="{name}"]')).to_have_count(0)
    assert (await alpha.get(f"/v1/collections/{name}")).status_code == 404

    assert await page.locator("main img").count() == 0
    assert await page.evaluate("document.body.dataset.owned") is None
    assert violations == []


async def test_an_unknown_collection_says_so(stack: Stack, page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    await _log_in(page, stack, KEYS["alpha"])
    await expect(page.locator("#list-view")).to_be_visible()
    await page.goto(f"{stack.base_url}/ui/#/collections/nothing-{uuid.uuid4().hex[:8]}")
    await expect(page.locator("#collection-summary")).to_contain_text("Nothing indexed")
    await page.click("#collection-delete")
    await expect(page.locator("#collection-error")).to_have_text("404: no such collection")
