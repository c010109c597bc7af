"""The dashboard's view model: badges of an access block, ages, sizes, the builds chart."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.http.views import CHART_ROW, access_filter, ago, badges, build_chart, size, within
from memora_cdn.state.sync_log import SyncCounts, SyncLogEntry

NOW = datetime(2026, 12, 2, 12, 0, 0)


def block(level: str, **extra: Any) -> dict[str, Any]:
    return {"is_published": True, "access_level": level, "is_sold_separately": False, **extra}


@pytest.mark.parametrize(
    ("access", "labels", "shown_as"),
    [
        (block("public"), ["public"], "free"),
        (block("free_preview"), ["free preview"], "free"),
        (block("authenticated"), ["signed-in"], "signed-in"),
        (block("paid", required_item="COURSE-001"), ["paid · COURSE-001"], "paid"),
        (
            block("paid", required_item="DLC-GEO", is_sold_separately=True),
            ["paid · DLC-GEO", "sold separately"],
            "paid separate",
        ),
    ],
)
def test_each_access_block_gets_its_badges_and_filter(
    access: dict[str, Any], labels: list[str], shown_as: str
) -> None:
    assert [b.label for b in badges(access)] == labels
    assert access_filter(access) == shown_as


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "just now"), (0, "0 s ago"), (59, "59 s ago"), (60, "1 min ago"), (7300, "2 h ago")],
)
def test_ages_are_given_in_the_largest_whole_unit(seconds: int, text: str) -> None:
    assert ago(NOW - timedelta(seconds=seconds), NOW) == text


def test_a_missing_time_is_never() -> None:
    assert ago(None, NOW) == "never"


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 B"), (999, "999 B"), (4100, "4.1 kB"), (12_500_000, "12.5 MB")]
)
def test_sizes_are_readable(count: int, text: str) -> None:
    assert size(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-1, "expired"), (30, "in 1 min"), (2400, "in 40 min"), (3700, "in 1 h 1 min")],
)
def test_time_left_is_readable(seconds: int, text: str) -> None:
    assert within(seconds) == text


def entry(number: int, seconds: float, files: int, status: SyncStatus) -> SyncLogEntry:
    started = NOW + timedelta(minutes=number)
    return SyncLogEntry(
        id=number,
        plan_id="PLAN-A",
        status=status,
        triggered_by=Trigger.SCHEDULER,
        started_at=started,
        completed_at=started + timedelta(seconds=seconds),
        counts=SyncCounts(files_uploaded=files),
        retry_count=0,
        is_fallback=False,
        error_message=None,
        warnings=(),
    )


def test_the_chart_puts_the_oldest_build_left_and_scales_each_row_to_its_largest() -> None:
    newest_first = [
        entry(3, 2.0, 0, SyncStatus.FAILED),
        entry(2, 4.0, 50, SyncStatus.SUCCESS),
        entry(1, 1.0, 100, SyncStatus.SUCCESS),
    ]
    chart = build_chart(newest_first)
    assert chart is not None
    assert [b.x < c.x for b, c in zip(chart.bars, chart.bars[1:], strict=False)] == [True, True]
    assert [b.duration_height for b in chart.bars] == [CHART_ROW / 4, CHART_ROW, CHART_ROW / 2]
    assert [b.files_height for b in chart.bars] == [CHART_ROW, CHART_ROW / 2, 0]
    assert [b.failed for b in chart.bars] == [False, False, True]
    assert (chart.max_seconds, chart.max_files) == (4.0, 100)
    assert chart.bars[0].title == "PLAN-A · Success · 1.0 s · 100 files · 2026-12-02 12:01:01 UTC"


def test_no_finished_build_means_no_chart() -> None:
    assert build_chart([]) is None
