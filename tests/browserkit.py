"""Helpers of the dashboard's browser tests and screenshot script: the system's Chromium
(never a downloaded one), signing in, and state worth showing."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

from httpkit import TOKEN, dead_letter, failed_build
from memora_cdn.app import App
from services import REQUIRE_SERVICES_ENV

CHROMIUM = Path(os.environ.get("MEMORA_CDN_TEST_CHROMIUM", "/usr/bin/chromium"))
PHONE = {"width": 375, "height": 812}
WIDE = {"width": 1440, "height": 1000}
FAILED_PLAN = "PLAN-G10-LIT"
FAILED_ERROR = "store error: PUT plans/PLAN-G10-LIT/manifest.json: 503 Service Unavailable"
DEAD_PLAN = "PLAN-G12-SCI"
DEAD_ERROR = "schema error: lessons/LES-00186.json: 'stages' is a required property"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None; fatal under REQUIRE_SERVICES."""
    if CHROMIUM.exists():
        return None
    return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"


def must_skip() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV) != "1"


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
    )


def sign_in(page: Page, url: str, token: str = TOKEN) -> None:
    """Open the dashboard and sign in with `token` through its login form."""
    page.goto(url)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def seed_problems(site: App) -> None:
    """A failed build (with its error) and a dead-lettered plan, as the dashboard shows them."""
    failed_build(site, FAILED_PLAN, FAILED_ERROR)
    dead_letter(site, DEAD_PLAN, DEAD_ERROR)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no horizontal scroll)."""
    width: int = page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
    return width
