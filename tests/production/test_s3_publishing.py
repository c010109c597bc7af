"""Publishing to S3 through boto3 (moto's server behind a fault proxy): failed uploads are
retried, and no manifest ever links a file the store does not have."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fakes.s3server import TEST_CREDENTIALS, S3FaultProxy
from memora_cdn.core.links import resolve_link
from memora_cdn.core.model import Doctype, SyncStatus, Trigger
from memora_cdn.store import s3
from memora_cdn.store.base import ObjectStore
from memora_cdn.store.s3 import s3_client
from sitekit import Site

pytestmark = pytest.mark.slow


class ClosureListener:
    """Wraps the store; after every upload, checks that whatever manifest the store shows
    links only files the store has, down to the lessons (what a client could follow)."""

    def __init__(self, inner: ObjectStore, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix
        self.checks = 0

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        self.inner.put(key, body, content_type=content_type, cache_control=cache_control)
        self.check()

    def check(self) -> None:
        keys = set(self.inner.list_keys("plans/"))
        for manifest in (k for k in keys if k.endswith("/manifest.json")):
            self._follow(manifest, keys)
        self.checks += 1

    def _follow(self, key: str, keys: set[str]) -> None:
        body = self.inner.get(key)
        assert body is not None, f"a document links {key}, which the store does not have"
        for link in _links(json.loads(body)):
            target = resolve_link(key, link)
            assert target in keys, f"{key} links {target}, which the store does not have"
            self._follow(target, keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def delete(self, keys: Sequence[str]) -> None:
        self.inner.delete(keys)


def _links(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for name, value in document.items():
            if name in ("url", "search_index_url") and isinstance(value, str) and "?v=" in value:
                yield value
            else:
                yield from _links(value)
    elif isinstance(document, list):
        for item in document:
            yield from _links(item)


ATTEMPTS = 3
"""boto3 attempts per request here (production makes 10): a key that keeps failing is given
up on after the same exponential backoff, only fewer rounds of it."""


@pytest.fixture
def site(
    tmp_path: Path, s3_proxy: S3FaultProxy, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    monkeypatch.setattr(
        s3, "s3_client", functools.partial(s3_client, max_attempts=ATTEMPTS)
    )  # the app imports it when it builds an S3 store
    site = Site(
        tmp_path,
        store=f"s3://{s3_bucket}/cdn",
        s3_endpoint_url=s3_proxy.endpoint,
        s3_region="us-east-1",
        s3_access_key=TEST_CREDENTIALS[0],
        s3_secret_key=TEST_CREDENTIALS[1],
    )
    b = site.build
    b.plan("P", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    for u in range(2):
        b.unit(f"U{u}", "T", sort_order=u)
        b.topic(f"TP{u}", f"U{u}")
        for n in range(4):
            b.lesson(f"U{u}L{n}", f"TP{u}", sort_order=n)
    site.build.insert()
    yield site
    site.close()


def test_an_upload_failing_on_the_fifth_file_is_retried_and_no_manifest_dangles(
    site: Site, s3_proxy: S3FaultProxy
) -> None:
    listener = ClosureListener(site.app.publisher.store, "cdn/")
    site.app.publisher.store = listener
    # The fifth PUT fails once: boto3's retry sends it again and the build goes on.
    s3_proxy.fail_puts(nth=5)
    site.queue_all()
    report = site.batch(Trigger.MANUAL)
    assert [o.status for o in report.outcomes] == [SyncStatus.SUCCESS]
    (failed,) = s3_proxy.failed_puts
    assert s3_proxy.puts[failed] == 2
    assert listener.checks == len(s3_proxy.puts)

    # A file that keeps failing: the build fails before any parent of it is written, and
    # the queue's retry uploads only what is missing.
    site.update_title = None
    site.update(
        __import__("memora_cdn.core.model", fromlist=["Doctype"]).Doctype.LESSON,
        "U1L2",
        title="New title",
    )
    s3_proxy.reset()
    s3_proxy.fail_puts(key="cdn/plans/P/lessons/U1L2.json", times=None)
    site.notify(Doctype.LESSON, "U1L2")
    report = site.batch()
    assert [o.status for o in report.outcomes] == [SyncStatus.FAILED]
    assert not [k for k in s3_proxy.puts if k.endswith(("manifest.json", "units/U1.json"))]
    s3_proxy.reset()
    site.clock.advance(30)
    report = site.batch(include_pending=False)
    assert [o.status for o in report.outcomes] == [SyncStatus.SUCCESS]
    assert "cdn/plans/P/lessons/U1L2.json" in s3_proxy.puts
    # Its neighbours (their navigation shows the title) landed during the failed attempt and
    # are in the published index: the retry does not upload them again.
    assert "cdn/plans/P/lessons/U1L1.json" not in s3_proxy.puts
    assert set(s3_proxy.puts) == {
        f"cdn/plans/P/{path}"
        for path in (
            "lessons/U1L2.json",
            "units/U1.json",
            "subjects/S.json",
            "search_index.json",
            "manifest.json",
        )
    }
    listener.check()
