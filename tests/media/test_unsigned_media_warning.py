"""With `signer = none`, a paid lesson whose stage configs hold media URLs is open to anyone
with the link: the plan's sync log says so, once per plan, with the count (issue 8, item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memora_cdn.core.model import Trigger
from sitekit import Site

MEDIA = "https://media.memora.example/videos"


def build(site: Site) -> None:
    """Paid subject S (lessons P1-P4) and public subject F (lesson F1), in plan P."""
    b = site.build
    b.plan("P", subjects=["S", "F"])
    b.subject("S", required_item="COURSE-1", sort_order=1)
    b.subject("F", is_public=True, sort_order=2)
    b.track("T", "S")
    b.track("TF", "F")
    b.unit("U", "T")
    b.unit("UF", "TF")
    b.topic("TP", "U")
    b.topic("TPF", "UF")
    for n in range(1, 5):
        b.lesson(f"P{n}", "TP", sort_order=n)
    b.lesson("F1", "TPF")
    b.stage("P1", config={"video_url": f"{MEDIA}/a.mp4"})
    b.stage("P1", config={"video_url": f"{MEDIA}/b.mp4"})  # one lesson, counted once
    b.stage("P2", type="Question", config={"questions": [{"video_url": f"{MEDIA}/q.mp4"}]})
    b.stage("P3", config={"video_url": "", "poster": f"{MEDIA}/poster.png"})  # no media URL
    b.stage("P4", type="Text", config={"body": "see https://media.memora.example/x"})
    b.stage("P4", config={"video_url": "http://[broken"})  # not a URL: no warning, no error
    b.stage("F1", config={"video_url": f"{MEDIA}/free.mp4"})  # not paid


def warnings_of_last_build(site: Site) -> tuple[str, ...]:
    site.queue_all()
    site.batch(Trigger.MANUAL)
    return site.app.state.sync_log(plan="P", limit=1)[0].warnings


def test_a_paid_lesson_with_unsigned_media_is_one_warning_per_plan_with_the_count(
    tmp_path: Path,
) -> None:
    site = Site(tmp_path)
    try:
        build(site)
        assert warnings_of_last_build(site) == (
            "paid lesson 'P1' has unsigned media: set signer "
            "(2 paid lessons with unsigned media in this plan)",
        )
    finally:
        site.close()


@pytest.mark.parametrize(
    "settings",
    [
        {"signer": "hmac", "media_base_url": MEDIA, "signing_secret": "s"},
        {"signed_keys": "stream_url"},
    ],
    ids=["with-a-signer", "media-under-other-keys"],
)
def test_no_unsigned_media_warning_with_a_signer_or_without_urls_under_the_signed_keys(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    site = Site(tmp_path, **settings)
    try:
        build(site)
        assert not any("unsigned media" in w for w in warnings_of_last_build(site))
    finally:
        site.close()
