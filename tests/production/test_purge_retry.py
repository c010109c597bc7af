"""A purge that fails is retried with the plan's retry, and nothing is uploaded again."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from fakes.cloudflare import FakeCloudflare
from memora_cdn.core.model import Doctype, SyncStatus, Trigger
from memora_cdn.http.app import create_http_app
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
    [failed] = site.app.state.sync_log(plan="P", status=SyncStatus.FAILED, limit=2)
    assert (failed.counts.purge_requests, failed.counts.purge_failures) == (1, 1)
    assert failed.counts.files_uploaded > 0  # the files that landed are counted

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


def purge_metrics(site: Site) -> tuple[float, float]:
    with TestClient(create_http_app(site.app)) as client:
        text = client.get("/metrics").text
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return samples["memora_cdn_purge_requests_total"], samples["memora_cdn_purge_failures_total"]


def test_metrics_count_purge_requests_and_failures_from_the_sync_log(
    site: Site, cloudflare: FakeCloudflare
) -> None:
    requests, failures = purge_metrics(site)
    assert failures == 0
    site.update(Doctype.LESSON, "L1", title="New")
    site.notify(Doctype.LESSON, "L1")
    cloudflare.reject_next(1, "Purge temporarily unavailable")
    assert [o.status for o in site.batch().outcomes] == [SyncStatus.FAILED]
    assert purge_metrics(site) == (requests + 1, 1)
    site.clock.advance(30)
    assert [o.status for o in site.batch(include_pending=False).outcomes] == [SyncStatus.SUCCESS]
    rows = site.app.state.sync_log(limit=100)
    assert purge_metrics(site) == (
        sum(r.counts.purge_requests for r in rows),
        sum(r.counts.purge_failures for r in rows),
    )
    assert purge_metrics(site) == (requests + 2, 1)
