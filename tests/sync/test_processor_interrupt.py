"""An interrupt in the middle of a build, on either queue (SPEC §8): the plan goes back to the
queue with no lease left, its log row Failed "interrupted", and the next run builds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.errors import Interrupted
from sitekit import Site


@pytest.fixture(params=["sql", "redis"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "sql":
        site = Site(tmp_path)
    else:
        site = Site(
            tmp_path,
            redis_url=request.getfixturevalue("redis_url"),
            redis_prefix=request.getfixturevalue("redis_prefix"),
        )
    try:
        yield site
    finally:
        site.close()


def test_an_interrupt_mid_build_puts_the_plan_back_and_the_next_run_builds_it(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = site.app
    app.intake.queue_plans(["P1"], trigger=Trigger.MANUAL)

    def ctrl_c(plan: str, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(app.publisher, "publish", ctrl_c)
        with pytest.raises(Interrupted) as caught:
            app.processor().run(Trigger.MANUAL)
    assert str(caught.value) == "interrupted: P1 was put back in the queue"
    stats = app.queue.stats(app.now())
    assert (stats.pending, stats.processing, stats.retrying) == (1, 0, 0)
    latest = app.state.sync_log(plan="P1", limit=1)[0]
    assert (latest.status, latest.error_message) == (SyncStatus.FAILED, "interrupted")
    report = app.processor().run(Trigger.MANUAL)  # at once: no lease to wait out
    assert [(o.plan, o.status) for o in report.outcomes] == [("P1", SyncStatus.SUCCESS)]
