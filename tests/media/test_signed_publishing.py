"""Signed media end to end: with an injected clock over two simulated days, no file the store
holds ever hands out a URL with less than the margin left, and lessons are re-signed in time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from defaults import default_publish_options
from memora_cdn.core.model import Trigger
from memora_cdn.media.signing import HmacSigner
from memora_cdn.sync.worker import Schedule, Worker
from sitekit import Site

MEDIA = "https://media.memora.example/videos"
SECRET = "media-secret"
MARGIN = 900


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(
        tmp_path,
        signer="hmac",
        media_base_url=MEDIA,
        signing_secret=SECRET,
        signed_url_expiry_hours=2,
    )
    b = site.build
    b.plan("P", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    for n in range(3):
        b.lesson(f"L{n}", "TP", sort_order=n)
        b.stage(f"L{n}", type="Video", config={"video_url": f"{MEDIA}/v{n}.mp4", "duration": 60})
        b.stage(f"L{n}", type="Text", config={"body": "no media here"})
    b.stage("L0", type="Video", config={"video_url": "https://elsewhere.example/x.mp4"})
    site.queue_all()
    site.batch(Trigger.MANUAL)
    yield site
    site.close()


def signed_urls(site: Site) -> list[tuple[str, str, int]]:
    """(file, url, exp) for every signed URL in the store."""
    found = []
    for key in sorted(site.keys("P")):
        if "/lessons/" not in key:
            continue
        for stage in site.doc(key)["stages"]:
            url = stage["config"].get("video_url", "")
            query = parse_qs(urlsplit(url).query)
            if "exp" in query:
                found.append((key, url, int(query["exp"][0])))
    return found


def test_lessons_carry_signed_urls_and_their_expiry(site: Site) -> None:
    lesson = site.doc("plans/P/lessons/L0.json")
    signed, plain = lesson["stages"][0]["config"]["video_url"], lesson["stages"][2]
    assert HmacSigner(MEDIA, SECRET, 2).verify(signed, int(site.clock.now))
    assert plain["config"]["video_url"] == "https://elsewhere.example/x.mp4"
    exp = min(e for _, _, e in signed_urls(site))
    assert lesson["signed_url_expires_at"] == datetime.fromtimestamp(exp, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert "signed_url_expires_at" not in site.doc("plans/P/units/U.json")


@pytest.mark.slow
def test_no_url_in_the_store_ever_has_less_than_the_margin_left(site: Site) -> None:
    worker = Worker(
        site.app.processor(),
        site.app.queue,
        Schedule(interval_seconds=300, threshold=50, scan_interval_seconds=None),
        site.clock,
        housekeeping=lambda: site.app.housekeeping(300),
    )
    rebuilt = 0
    for minute in range(2 * 24 * 60):
        site.clock.advance(60)
        report = worker.tick(interval_due=minute % 5 == 0)
        rebuilt += len(report.outcomes) if report else 0
        now = site.clock.now
        for key, url, exp in signed_urls(site):
            assert exp - now >= MARGIN, f"{key} hands out {url} with {exp - now:.0f}s left"
    assert rebuilt >= 20, "the plan was re-signed again and again over two days"
    assert len(signed_urls(site)) == 3


def test_a_signed_lesson_is_never_cached_past_its_urls_minus_the_margin() -> None:
    from memora_cdn.core.documents import Document
    from memora_cdn.core.paths import DocKind

    options = default_publish_options(
        document_cache_seconds=31_536_000, signed_url_margin_seconds=MARGIN
    )
    now = 1_800_000_000

    def lesson(expires_at: int | None) -> Document:
        return Document("plans/P/lessons/L.json", DocKind.LESSON, b"{}", "h", now, {}, expires_at)

    assert options.cache_control(lesson(None), now) == "public, max-age=31536000"
    assert options.cache_control(lesson(now + 7200), now) == f"public, max-age={7200 - MARGIN}"
    assert options.cache_control(lesson(now + 600), now) == "public, max-age=0"
