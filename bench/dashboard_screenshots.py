#!/usr/bin/env python3
"""Screenshots of the dashboard for the README, taken with the system's Chromium:

    .venv/bin/python bench/dashboard_screenshots.py [--out docs/screenshots]

Seeds and publishes the demo in a temporary folder, adds a failed build and a dead letter,
starts `memora-cdn serve` with an admin token, signs in, and saves the dashboard and the plan
explorer at desktop (1440 px) and phone (375 px) width.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browserkit import PHONE, WIDE, chromium_missing, launch, seed_problems, sign_in
from httpkit import serving
from memora_cdn.app import running
from memora_cdn.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
EXPLORED_PLAN = "PLAN-G10-SCI"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        sys.exit(missing)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        memora = [sys.executable, "-m", "memora_cdn"]
        subprocess.run([*memora, "demo"], cwd=home, env=env, check=True, capture_output=True)
        subprocess.run(
            [*memora, "rebuild", EXPLORED_PLAN], cwd=home, env=env, check=True, capture_output=True
        )
        os.chdir(home)
        for name in list(os.environ):
            if name.startswith("MEMORA_CDN_"):
                del os.environ[name]
        with running(load_settings()) as site:
            seed_problems(site)
        with serving(home) as server, sync_playwright() as playwright:
            browser = launch(playwright)
            for label, viewport in (("wide", WIDE), ("phone", PHONE)):
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                sign_in(page, server.url)
                page.screenshot(path=args.out / f"dashboard-{label}.png", full_page=True)
                page.goto(f"{server.url}/?plan={EXPLORED_PLAN}")
                page.fill("#find", "linear equations")
                page.wait_for_timeout(400)
                page.locator("#explorer").screenshot(path=args.out / f"explorer-{label}.png")
                page.close()
            browser.close()
    for shot in sorted(args.out.glob("*.png")):
        print(shot.relative_to(ROOT))


if __name__ == "__main__":
    main()
