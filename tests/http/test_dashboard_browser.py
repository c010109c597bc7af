"""Acceptance (issue 9): the dashboard in a real browser (the system's Chromium, headless)
against a real `memora-cdn serve` of the published demo, with an admin token (SPEC §9)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from browserkit import (
    DEAD_ERROR,
    DEAD_PLAN,
    FAILED_ERROR,
    FAILED_PLAN,
    PHONE,
    WIDE,
    chromium_missing,
    horizontal_overflow,
    launch,
    must_skip,
    seed_problems,
    sign_in,
)
from clirun import invoke
from httpkit import TOKEN, Server
from memora_cdn import operations
from memora_cdn.app import App
from memora_cdn.core.model import Trigger
from memora_cdn.http.auth import SESSION_COOKIE

pytestmark = pytest.mark.slow

PLAN = "PLAN-G10-SCI"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = chromium_missing()
    if missing:
        if must_skip():
            pytest.skip(missing)
        pytest.fail(missing, pytrace=False)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def open_page(browser: Browser, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from open_page(browser, WIDE)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from open_page(browser, PHONE)


def test_signing_in_with_the_admin_token_opens_the_dashboard(page: Page, server: Server) -> None:
    page.goto(server.url)
    expect(page.locator("#token")).to_be_visible()
    expect(page.locator("#queue")).to_have_count(0)
    sign_in(page, server.url)
    expect(page.locator("#queue")).to_be_visible()
    expect(page.locator("#token")).to_have_count(0)
    [cookie] = [c for c in page.context.cookies() if c.get("name") == SESSION_COOKIE]
    assert (cookie.get("httpOnly"), cookie.get("sameSite")) == (True, "Strict")
    assert TOKEN not in cookie.get("value", "")
    assert TOKEN not in server.log.read_text()


def test_the_queue_counts_and_a_failed_plans_error_are_shown(
    page: Page, server: Server, site: App
) -> None:
    seed_problems(site)
    site.intake.queue_plans([PLAN], trigger=Trigger.MANUAL)
    status = operations.queue_status(site)
    assert (status["pending"], status["dead_letter"]) == (1, 1)
    sign_in(page, server.url)
    for name in ("pending", "processing", "retrying", "dead_letter", "fallback_pending"):
        expect(page.locator(f'[data-count="{name}"]')).to_have_text(str(status[name]))
    expect(page.locator('[data-count="queue_backend"]')).to_have_text("sql")
    failure = page.locator(f'#failures [data-failure="{FAILED_PLAN}"]')
    expect(failure.locator(".error")).to_have_text(FAILED_ERROR)


def test_retry_on_a_dead_letter_takes_it_off_the_list(
    page: Page, server: Server, site: App
) -> None:
    seed_problems(site)
    sign_in(page, server.url)
    letter = page.locator(f'[data-dead-letter="{DEAD_PLAN}"]')
    expect(letter.locator(".error")).to_have_text(DEAD_ERROR)
    letter.locator('button[data-action="retry"]').click()
    expect(letter).to_have_count(0)
    expect(page.locator("#notice")).to_have_text(f"{DEAD_PLAN} queued again.")
    assert site.queue.dead_letters() == []
    assert site.queue.stats(site.now()).pending == 1


def test_clear_forgets_a_dead_letter_and_rebuild_queues_a_plan(
    page: Page, server: Server, site: App
) -> None:
    seed_problems(site)
    sign_in(page, server.url)
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f'[data-dead-letter="{DEAD_PLAN}"] button[data-action="clear"]').click()
    expect(page.locator(f'[data-dead-letter="{DEAD_PLAN}"]')).to_have_count(0)
    assert site.queue.dead_letters() == []
    assert site.queue.stats(site.now()).pending == 0
    page.locator(f'#plans [data-plan="{PLAN}"] button[data-action="rebuild"]').click()
    expect(page.locator("#notice")).to_have_text(f"{PLAN} queued for a rebuild.")
    expect(page.locator('[data-count="pending"]')).to_have_text("1")
    assert site.queue.stats(site.now()).pending == 1


def test_a_sync_run_outside_the_browser_appears_without_a_reload(
    page: Page, server: Server, site: App
) -> None:
    sign_in(page, server.url)
    expect(page.locator("#recent-syncs")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    site.intake.queue_plans([PLAN], trigger=Trigger.MANUAL)
    assert invoke("sync")[0] == 0
    [newest] = site.state.sync_log(plan=PLAN, limit=1)
    row = page.locator(f'#recent-syncs [data-sync-id="{newest.id}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator(".pill[class*='status-']")).to_have_text("Success")
    assert page.evaluate("window.__sameDocument") is True


def first(node: dict[str, Any], wanted: Any) -> dict[str, Any] | None:
    if wanted(node):
        return node
    for child in node["children"]:
        found = first(child, wanted)
        if found is not None:
            return found
    return None


def test_the_plan_explorer_finds_a_paid_lesson_with_its_item_and_a_free_preview_unit(
    page: Page, server: Server, site: App
) -> None:
    tree = operations.plan_tree(site, PLAN)
    assert tree is not None
    subjects = {"kind": "plan", "children": tree["subjects"]}
    paid = first(
        subjects,
        lambda n: n["kind"] == "lesson" and n["access"]["access_level"] == "paid",
    )
    preview = first(
        subjects,
        lambda n: n["kind"] == "unit" and n["access"]["access_level"] == "free_preview",
    )
    assert paid is not None
    assert preview is not None
    sign_in(page, server.url)
    page.select_option("#plan-select", PLAN)
    page.wait_for_url(f"**/?plan={PLAN}*")
    page.fill("#find", paid["id"])
    lesson = page.locator(f'#tree .node.match[data-name$=" {paid["id"].lower()}"]')
    expect(lesson).to_be_visible()
    expect(lesson.locator(".badge")).to_have_text(f"paid · {paid['access']['required_item']}")
    page.fill("#find", preview["title"])
    unit = page.locator(f'#tree .node.match[data-name$=" {preview["id"].lower()}"]')
    expect(unit).to_be_visible()
    expect(unit.locator(":scope > details > summary .badge")).to_have_text("free preview")
    expect(page.locator("#tree .node.kind-subject").first).to_be_visible()


def test_a_wrong_token_shows_an_error_and_no_data(page: Page, server: Server, site: App) -> None:
    seed_problems(site)
    sign_in(page, server.url, token="not-the-token")
    expect(page.locator("#login-error")).to_have_text("Wrong admin token.")
    content = page.content()
    for data in (PLAN, FAILED_PLAN, DEAD_PLAN, FAILED_ERROR, 'id="queue"'):
        assert data not in content
    assert page.context.cookies() == []
    assert "not-the-token" not in server.log.read_text()


def test_the_page_at_phone_width_has_no_horizontal_overflow(
    phone: Page, server: Server, site: App
) -> None:
    seed_problems(site)
    sign_in(phone, server.url)
    expect(phone.locator("#queue")).to_be_visible()
    assert phone.viewport_size == PHONE
    assert horizontal_overflow(phone) == 0
    phone.goto(f"{server.url}/?plan={PLAN}")
    phone.fill("#find", "linear")
    expect(phone.locator("#tree .node.match").first).to_be_visible()
    assert horizontal_overflow(phone) == 0
