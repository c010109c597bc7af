"""The composition root builds the worker, its schedule, the scanner and the RQ dispatcher."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memora_cdn.factories import make_schedule, retry_policy
from memora_cdn.sync.rq_dispatch import RqDispatcher
from sitekit import Site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(
        tmp_path,
        batch_interval_minutes=2,
        batch_threshold=7,
        scan_interval_seconds=0,
        max_retries=5,
        retry_base_seconds=10,
    )
    yield site
    site.close()


def test_the_worker_runs_on_the_settings_schedule_and_builds_in_process(site: Site) -> None:
    stop = threading.Event()
    runner = site.app.worker(stop)
    assert (runner.schedule.interval_seconds, runner.schedule.threshold) == (120, 7)
    assert runner.schedule.scan_interval_seconds is None  # 0: no scans
    assert runner.schedule == make_schedule(site.app.settings)
    assert runner.dispatch is None
    assert runner.stop is stop
    assert runner.processor.policy == retry_policy(site.app.settings)
    assert (runner.processor.policy.max_retries, runner.processor.policy.base_seconds) == (5, 10)
    assert runner.poll is not None
    assert runner.housekeeping is not None


def test_one_scan_queues_the_plans_of_new_documents(site: Site) -> None:
    site.build.plan("P", subjects=["S"])
    site.build.subject("S")
    site.build.insert()
    queued = site.app.scan()
    assert queued.scheduled == ("P",)
    assert site.app.scan().scheduled == ()  # the watermarks advanced


def test_rq_dispatch_needs_redis(site: Site) -> None:
    with pytest.raises(RuntimeError, match="redis_url"):
        site.app.dispatcher()


def test_with_redis_the_worker_hands_plans_to_rq(tmp_path: Path, redis_url: str) -> None:
    site = Site(tmp_path, redis_url=redis_url)
    try:
        dispatcher = site.app.dispatcher()
        assert isinstance(dispatcher, RqDispatcher)
        assert dispatcher.queue is site.app.queue
        assert dispatcher.worker_id == site.app.worker_id
        assert site.app.worker(threading.Event()).dispatch is not None
    finally:
        site.close()
