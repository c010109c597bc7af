"""Redis goes away in the middle of a stream of edits and comes back: nothing is lost, and
the batch after recovery publishes every affected plan once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes.redisserver import PrivateRedis
from memora_cdn.core.model import Doctype, SyncStatus, Trigger
from memora_cdn.state.schema import export_queue
from sitekit import Site

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path: Path, private_redis: PrivateRedis) -> Iterator[Site]:
    site = Site(tmp_path, redis_url=private_redis.url)
    for p in range(40):
        site.build.plan(f"P{p:02}", subjects=[f"S{p:02}"])
        site.build.subject(f"S{p:02}")
        site.build.track(f"S{p:02}-T", f"S{p:02}")
        site.build.unit(f"S{p:02}-U", f"S{p:02}-T")
        site.build.topic(f"S{p:02}-TP", f"S{p:02}-U")
        site.build.lesson(f"S{p:02}-L", f"S{p:02}-TP")
    site.queue_all()
    site.batch(Trigger.MANUAL)
    yield site
    site.close()


def fallback_rows(site: Site) -> int:
    with site.app.state.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(export_queue)).scalar_one()
    return int(count)


def test_redis_stopped_mid_stream_of_200_events_then_every_plan_is_published_once(
    site: Site, private_redis: PrivateRedis
) -> None:
    for event in range(200):
        if event == 70:
            private_redis.crash()
        if event == 140:
            private_redis.start()
        lesson = f"S{event % 40:02}-L"
        site.update(Doctype.LESSON, lesson, title=f"Edit {event}")
        site.notify(Doctype.LESSON, lesson)
        if 70 <= event < 140:
            assert "fallback" in site.app.queue.name
    assert fallback_rows(site) > 0, "events went to the SQL queue while Redis was down"
    site.app.housekeeping(300)
    recovered = {
        r.plan_id
        for r in site.app.state.sync_log(limit=200)
        if r.triggered_by is Trigger.FALLBACK_RECOVERY
    }
    assert recovered, "the fallback rows were drained back into Redis"

    def successes() -> set[int]:
        rows = site.app.state.sync_log(status=SyncStatus.SUCCESS, limit=1000)
        return {r.id for r in rows}

    before = successes()
    report = site.batch()
    assert sorted(o.plan for o in report.outcomes) == [f"P{p:02}" for p in range(40)]
    assert all(o.status is SyncStatus.SUCCESS for o in report.outcomes)
    assert fallback_rows(site) == 0
    assert len(successes() - before) == 40, "one successful build per plan in the batch"
    for p in range(40):
        assert site.doc(f"plans/P{p:02}/lessons/S{p:02}-L.json")["title"].startswith("Edit 1")
    site.assert_store_equals_fresh_export()
