"""One batch built in two forked processes (issue 10): the same store as one process leaves,
each plan's failure reported on its own, and the queue and the sync log kept by the parent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from catalogue import build_catalogue
from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.errors import SourceSchemaError
from memora_cdn.publish import Publisher, PublishResult
from memora_cdn.source.sql import SqlSource
from memora_cdn.sync.processor import BatchReport
from sitekit import Site

PLANS = ("P1", "P2", "P3", "P4")
BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


def catalogue(site: Site) -> None:
    """Four plans; P1's first subject is shown by every plan."""
    build_catalogue(site.engine, plans=len(PLANS))
    for plan in PLANS[1:]:
        site.build.plan_subject(plan, "P1-S1", sort_order=0, idx=9, name=f"{plan}-shared")
    site.build.insert()


def open_site(root: Path, db_url: str) -> Site:
    root.mkdir(exist_ok=True)
    if db_url.startswith("sqlite"):
        return Site(root)
    return Site(root, database_url=db_url, state_database_url=db_url)


@pytest.fixture
def builder_pids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file each build appends its process id to (the class is patched before the fork,
    so the build processes run the patched method too)."""
    record = tmp_path / "pids"
    publish = Publisher.publish

    def recording(self: Publisher, plan: str, **kwargs: Any) -> PublishResult:
        with record.open("a") as file:
            file.write(f"{os.getpid()}\n")
        return publish(self, plan, **kwargs)

    monkeypatch.setattr(Publisher, "publish", recording)
    return record


def store_files(site: Site) -> dict[str, bytes]:
    return {key: site.store.get(key) or b"" for key in site.store.list_keys()}


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
def test_two_build_processes_leave_the_store_one_process_leaves(
    tmp_path: Path, db_url: str, builder_pids: Path
) -> None:
    forked = open_site(tmp_path / "forked", db_url)
    single = open_site(tmp_path / "single", "sqlite")
    try:
        for site in (forked, single):
            catalogue(site)
            site.queue_all()
        report = forked.app.processor(processes=2).run(Trigger.MANUAL)
        pids = set(builder_pids.read_text().split())
        builder_pids.unlink()
        single.app.processor().run(Trigger.MANUAL)

        assert sorted(o.plan for o in report.succeeded) == list(PLANS)
        assert len(pids) == 2
        assert str(os.getpid()) not in pids
        assert set(builder_pids.read_text().split()) == {str(os.getpid())}
        assert store_files(forked) == store_files(single)
        forked.assert_store_equals_fresh_export()
        stats = forked.app.queue.stats(forked.app.now())
        assert (stats.pending, stats.processing, stats.retrying) == (0, 0, 0)
        statuses = {e.plan_id: e.status for e in forked.app.state.sync_log(limit=10)}
        assert statuses == dict.fromkeys(PLANS, SyncStatus.SUCCESS)
    finally:
        forked.close()
        single.close()


@pytest.fixture
def failing_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """P2 fails as memora-cdn explains failures, P3 with a bug, in the build processes."""
    load = SqlSource.load

    def failing(self: SqlSource, plan: str, *args: Any, **kwargs: Any) -> Any:
        if plan == "P2":
            raise SourceSchemaError("tabMemora Unit", "parent_track")
        if plan == "P3":
            raise RuntimeError("a bug in P3's build")
        return load(self, plan, *args, **kwargs)

    monkeypatch.setattr(SqlSource, "load", failing)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
def test_each_plans_failure_is_reported_on_its_own(
    tmp_path: Path, db_url: str, failing_plans: None
) -> None:
    site = open_site(tmp_path, db_url)
    try:
        catalogue(site)
        site.queue_all()
        report: BatchReport = site.app.processor(processes=2).run(Trigger.MANUAL)

        outcomes = {o.plan: o for o in report.outcomes}
        assert sorted(outcomes) == list(PLANS)
        assert sorted(o.plan for o in report.succeeded) == ["P1", "P4"]
        p2, p3 = outcomes["P2"], outcomes["P3"]
        assert (p2.status, p2.exit_code, p2.unexpected) == (SyncStatus.FAILED, 3, False)
        assert p2.error == (
            "source table `tabMemora Unit` has no column `parent_track`, which memora-cdn needs"
        )
        assert (p3.status, p3.exit_code, p3.unexpected) == (SyncStatus.FAILED, 1, True)
        assert p3.error == "RuntimeError: a bug in P3's build"
        assert p2.retry_at is not None
        assert p3.retry_at is not None
        failed = {
            e.plan_id: e.error_message
            for e in site.app.state.sync_log(limit=20)
            if e.status is SyncStatus.FAILED
        }
        assert failed == {"P2": p2.error, "P3": p3.error}
        assert site.keys("P1")
        assert site.keys("P4")
        assert not site.keys("P2")
        assert not site.keys("P3")
        assert site.app.queue.stats(site.app.now()).retrying == 2
    finally:
        site.close()
