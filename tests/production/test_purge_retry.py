"""A purge that fails is retried with the plan's retry, and nothing is uploaded again."""

from __future__ import annotations

import pytest

from fakes.cloudflare import FakeCloudflare
from memora_cdn.core.model import Doctype, SyncStatus, Trigger
from sitekit import CDN, Site


@pytest.fixture
def site(purging_site: Site) -> Site:
    site = purging_site
    b = site.build
    b.plan("P", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    for n in range(3):
        b.lesson(f"L{n}", "TP", sort_order=n)
    site.queue_all()
    site.batch(Trigger.MANUAL)
    return site


def test_a_failed_purge_is_retried_without_uploading_again(
    site: Site, cloudflare: FakeCloudflare
) -> None:
    site.update(Doctype.LESSON, "L1", title="New")
    site.notify(Doctype.LESSON, "L1")
    cloudflare.reject_next(1, "Purge temporarily unavailable")
    report = site.batch()
    assert [o.status for o in report.outcomes] == [SyncStatus.FAILED]
    assert "CDN purge failed" in (report.outcomes[0].error or "")
    uploaded = set(site.app.state.published(site.app.store.identity, "P"))
    assert site.doc("plans/P/lessons/L1.json")["title"] == "New"  # the files did land
    pending = site.app.state.pending_purges("P")
    assert "plans/P/lessons/L1.json" in pending

    calls = len(cloudflare.calls)
    site.clock.advance(30)
    report = site.batch(include_pending=False)
    (outcome,) = report.outcomes
    assert outcome.status is SyncStatus.SUCCESS
    assert outcome.result is not None
    assert outcome.result.uploaded_keys == ()  # nothing uploaded again
    assert outcome.result.counts.purge_requests >= 1
    purged = {url for call in cloudflare.calls[calls:] for url in call.files or []}
    assert purged == {f"{CDN}/{key}" for key in pending}
    assert site.app.state.pending_purges("P") == []
    assert set(site.app.state.published(site.app.store.identity, "P")) == uploaded
    log = site.app.state.sync_log(plan="P", limit=1)[0]
    assert (log.status, log.counts.purge_requests) == (SyncStatus.SUCCESS, 1)
