"""`memora-cdn worker` as real processes sharing one database (SQLite file, MariaDB)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

import pytest

from catalogue import CatalogueBuilder
from memora_cdn.core.model import SyncStatus, Trigger
from sitekit import Site

pytestmark = pytest.mark.slow


def catalogue(site: Site, plans: int, lessons: int) -> list[str]:
    b: CatalogueBuilder = site.build
    names = []
    for p in range(plans):
        plan = b.plan(f"P{p:02}", subjects=[f"S{p:02}"])
        names.append(plan)
        b.subject(f"S{p:02}")
        b.track(f"S{p:02}-T", f"S{p:02}")
        b.unit(f"S{p:02}-U", f"S{p:02}-T")
        b.topic(f"S{p:02}-TP", f"S{p:02}-U")
        for n in range(lessons):
            lesson = b.lesson(f"S{p:02}-L{n:04}", f"S{p:02}-TP", sort_order=n)
            b.stage(lesson, type="Text", config={"body": "x" * 200})
    b.insert()
    return names


class Workers:
    def __init__(self, site: Site, **settings: str) -> None:
        self.env = {
            **os.environ,
            "MEMORA_CDN_DATABASE_URL": site.database_url,
            "MEMORA_CDN_STATE_DATABASE_URL": site.settings.state_url,
            "MEMORA_CDN_STORE": site.settings.store,
            "MEMORA_CDN_BATCH_THRESHOLD": "1",
            "MEMORA_CDN_SCAN_INTERVAL_SECONDS": "0",
            **settings,
        }
        self.processes: list[subprocess.Popen[str]] = []
        self.logs = site.root
        self.files: list[IO[str]] = []

    def start(self) -> subprocess.Popen[str]:
        log = (self.logs / f"worker-{len(self.processes)}.log").open("w")
        self.files.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "memora_cdn", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop(self) -> list[int]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in self.processes]
        self.close()
        return codes

    def close(self) -> None:
        for file in self.files:
            file.close()

    def output(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self.logs.glob("worker-*.log")))

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.close()


@pytest.fixture
def workers_for() -> Iterator[list[Workers]]:
    made: list[Workers] = []
    yield made
    for workers in made:
        workers.kill()


def wait_for(condition: object, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def assert_never_two_builds_at_once(intervals: dict[str, list[tuple[datetime, datetime]]]) -> None:
    for plan, spans in intervals.items():
        spans = sorted(spans)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, f"two builds of {plan} overlapped"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
    ]
)
def shared_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """One database for content, state and queue, shared by every worker process."""
    if request.param == "sqlite":
        site = Site(tmp_path, state_database_url=f"sqlite:///{tmp_path / 'site.db'}")
        yield site
        site.close()
        return
    server = request.getfixturevalue("mariadb_server")
    database = server.create_database()
    url = server.url_for(database)
    site = Site(tmp_path, database_url=url, state_database_url=url)
    try:
        yield site
    finally:
        site.close()
        server.drop_database(database)


def test_two_workers_build_thirty_queued_plans_each_exactly_once(
    shared_site: Site, workers_for: list[Workers]
) -> None:
    site = shared_site
    plans = catalogue(site, plans=30, lessons=30)
    site.app.intake.queue_plans(plans, trigger=Trigger.MANUAL)
    workers = Workers(site)
    workers_for.append(workers)
    workers.start()
    workers.start()
    wait_for(lambda: len(site.successful_builds()) == 30, what="30 plans built")
    wait_for(lambda: site.app.queue.stats(site.clock.datetime()).processing == 0, what="idle")
    assert workers.stop() == [0, 0]
    done = site.successful_builds()
    assert sorted(done) == plans
    assert all(len(spans) == 1 for spans in done.values()), "a plan was built twice"
    assert_never_two_builds_at_once(done)
    others = [r for r in site.app.state.sync_log(limit=1000) if r.status is not SyncStatus.SUCCESS]
    assert others == [], "no build failed or was left unfinished"
    site.assert_store_equals_fresh_export()


def test_plans_queued_again_while_workers_build_are_never_built_twice_at_once(
    shared_site: Site, workers_for: list[Workers]
) -> None:
    site = shared_site
    plans = catalogue(site, plans=8, lessons=60)
    workers = Workers(site)
    workers_for.append(workers)
    workers.start()
    workers.start()
    for _ in range(5):
        site.app.intake.queue_plans(plans, trigger=Trigger.MANUAL)
        time.sleep(0.3)
    wait_for(
        lambda: (
            site.app.queue.stats(site.clock.datetime()).pending == 0
            and site.app.queue.stats(site.clock.datetime()).processing == 0
        ),
        what="an empty queue",
    )
    assert workers.stop() == [0, 0]
    done = site.successful_builds()
    assert sorted(done) == plans
    assert_never_two_builds_at_once(done)
    site.assert_store_equals_fresh_export()


def test_a_worker_killed_mid_build_is_taken_over_after_its_lease(
    tmp_path: Path, workers_for: list[Workers]
) -> None:
    site = Site(tmp_path)
    try:
        (plan,) = catalogue(site, plans=1, lessons=1500)
        site.app.intake.queue_plans([plan], trigger=Trigger.MANUAL)
        workers = Workers(site, MEMORA_CDN_LOCK_TTL_SECONDS="5")
        workers_for.append(workers)
        victim = workers.start()
        wait_for(
            lambda: any(
                r.status is SyncStatus.PROCESSING for r in site.app.state.sync_log(plan=plan)
            ),
            what="the build to start",
        )
        time.sleep(0.5)
        victim.kill()
        victim.wait()
        assert not any(r.status is SyncStatus.SUCCESS for r in site.app.state.sync_log(plan=plan))
        workers.start()
        wait_for(
            lambda: site.successful_builds().get(plan), what="the plan built by the second worker"
        )
        workers.stop()
        log = site.app.state.sync_log(plan=plan)
        assert log[0].status is SyncStatus.SUCCESS
        assert log[1].status is SyncStatus.FAILED
        assert log[1].error_message == "worker lost: its lease ran out before the build finished"
        site.assert_store_equals_fresh_export()
    finally:
        site.close()


def test_sigterm_stops_the_worker_after_the_plan_in_hand(
    tmp_path: Path, workers_for: list[Workers]
) -> None:
    site = Site(tmp_path)
    try:
        plans = catalogue(site, plans=2, lessons=1200)
        site.app.intake.queue_plans(plans, trigger=Trigger.MANUAL)
        workers = Workers(site)
        workers_for.append(workers)
        process = workers.start()
        wait_for(
            lambda: any(r.status is SyncStatus.PROCESSING for r in site.app.state.sync_log()),
            what="a build to start",
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
        workers.close()
        log = site.app.state.sync_log()
        finished = [r for r in log if r.status is SyncStatus.SUCCESS]
        assert len(finished) == 1, "the plan in hand is finished, the next one is not started"
        assert not [r for r in log if r.status is SyncStatus.PROCESSING]
        assert site.app.queue.pending_count() == 1
        assert "SIGTERM: stopping after the plan in hand" in workers.output()
    finally:
        site.close()
