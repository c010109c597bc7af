"""The worker's scheduler: threshold, interval, due retries, and which trigger it logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.sync.worker import Schedule, Worker
from sitekit import Site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    b = site.build
    for p in range(6):
        b.plan(f"P{p}", subjects=[f"S{p}"])
        b.subject(f"S{p}")
    b.insert()
    yield site
    site.close()


def worker(site: Site, threshold: int = 5) -> Worker:
    return Worker(
        site.app.processor(),
        site.app.queue,
        Schedule(interval_seconds=300, threshold=threshold, scan_interval_seconds=None),
        site.clock,
    )


def triggers(site: Site, plan: str) -> list[Trigger]:
    return [
        r.triggered_by for r in site.app.state.sync_log(plan=plan) if r.status is SyncStatus.SUCCESS
    ]


def test_pending_plans_wait_for_the_interval_below_the_threshold(site: Site) -> None:
    site.app.intake.queue_plans(["P0", "P1"], trigger=Trigger.SCHEDULER)
    runner = worker(site)
    assert runner.tick(interval_due=False) is None
    assert site.app.queue.pending_count() == 2
    report = runner.tick(interval_due=True)
    assert report is not None
    assert sorted(o.plan for o in report.outcomes) == ["P0", "P1"]
    assert triggers(site, "P0") == [Trigger.SCHEDULER]


def test_reaching_the_threshold_starts_a_batch_at_once(site: Site) -> None:
    site.app.intake.queue_plans([f"P{p}" for p in range(5)], trigger=Trigger.SCHEDULER)
    report = worker(site, threshold=5).tick(interval_due=False)
    assert report is not None
    assert report.trigger is Trigger.THRESHOLD
    assert len(report.outcomes) == 5
    assert triggers(site, "P4") == [Trigger.THRESHOLD]


def test_due_retries_do_not_wait_for_the_interval(site: Site) -> None:
    site.app.intake.queue_plans(["P0"], trigger=Trigger.SCHEDULER)
    (claim,) = site.app.queue.claim("w", site.clock.datetime(), lease_seconds=60)
    site.app.queue.fail(claim, "boom", site.clock.datetime(), site.app.processor().policy)
    site.app.intake.queue_plans(["P1"], trigger=Trigger.SCHEDULER)
    runner = worker(site)
    assert runner.tick(interval_due=False) is None  # the retry is not due yet
    site.clock.advance(30)
    report = runner.tick(interval_due=False)
    assert report is not None
    assert [o.plan for o in report.outcomes] == ["P0"]
    assert site.app.queue.pending_count() == 1  # P1 still waits for the interval


def test_a_stop_request_ends_the_batch_after_the_plan_in_hand(site: Site) -> None:
    site.app.intake.queue_plans([f"P{p}" for p in range(3)], trigger=Trigger.SCHEDULER)
    processor = site.app.processor()
    report = processor.run(Trigger.MANUAL, on_outcome=lambda _: processor.stop.set())
    assert len(report.outcomes) == 1
    assert report.outcomes[0].status is SyncStatus.SUCCESS
    assert site.app.queue.pending_count() == 2
