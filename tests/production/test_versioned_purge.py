"""A change purges each changed file's new versioned URL too, so that a revert cannot leave the
edge serving the wrong body under an old version's URL (SPEC §4 step 3)."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from fakes.cloudflare import FakeCloudflare
from memora_cdn.core import paths
from memora_cdn.core.links import key_url
from memora_cdn.core.model import Doctype, SyncStatus, Trigger
from sitekit import CDN, Site


class Edge:
    """A CDN edge in front of the folder store: a URL is answered from its cache, else from
    the origin (which ignores the query string, as a static origin does) and then cached under
    that URL; a purge drops exactly the URLs Cloudflare was asked to purge."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.cache: dict[str, bytes] = {}

    def get(self, url: str) -> bytes:
        if url not in self.cache:
            key = unquote(urlsplit(url).path.removeprefix("/"))
            body = self.site.store.get(key)
            assert body is not None, f"the origin has no {url}"
            self.cache[url] = body
        return self.cache[url]

    def purge(self, urls: list[str]) -> None:
        for url in urls:
            self.cache.pop(url, None)


@pytest.fixture
def site(purging_site: Site) -> Site:
    site = purging_site
    b = site.build
    b.plan("P", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    b.lesson("L1", "TP", title="Fractions")
    site.queue_all()
    site.batch(Trigger.MANUAL)
    return site


def edit_and_build(site: Site, cloudflare: FakeCloudflare, edge: Edge, title: str) -> list[str]:
    """An editor retitles L1, the plan is built (in the same second: the clock stands still,
    so a revert gives back the old bytes exactly), and the edge sees the purge."""
    calls = len(cloudflare.calls)
    site.update(Doctype.LESSON, "L1", title=title)
    site.notify(Doctype.LESSON, "L1")
    (outcome,) = site.batch().outcomes
    assert outcome.status is SyncStatus.SUCCESS
    purged = [url for call in cloudflare.calls[calls:] for url in call.files or []]
    edge.purge(purged)
    return purged


def test_a_revert_after_a_change_purges_the_old_version_url_the_edge_filled_with_the_new_body(
    site: Site, cloudflare: FakeCloudflare
) -> None:
    edge = Edge(site)
    lesson = paths.lesson_key("P", "L1")
    unit = paths.unit_key("P", "U")
    # The URL a client requests: the unit's link resolved against the unit's URL.
    link = site.doc(unit)["topics"][0]["lessons"][0]["url"]
    old_link = urljoin(f"{CDN}/{key_url(unit)}", link)
    assert old_link.startswith(f"{CDN}/{lesson}?v=")
    old_body = edge.get(old_link)

    purged = edit_and_build(site, cloudflare, edge, "Decimals")
    new_body = site.store.get(lesson)
    assert new_body is not None
    assert new_body != old_body
    new_version = hashlib.sha256(new_body).hexdigest()[:12]
    assert f"{CDN}/{lesson}" in purged
    assert f"{CDN}/{lesson}?v={new_version}" in purged
    # A client still holding the old unit (manifests and parents are cached for a while)
    # asks a cold edge (another location) for the old version: the origin answers with the
    # new body, and the edge keeps that under the old version's URL.
    edge.cache.pop(old_link)
    assert edge.get(old_link) == new_body

    purged = edit_and_build(site, cloudflare, edge, "Fractions")
    assert site.store.get(lesson) == old_body  # the revert gives back the old bytes
    assert old_link in purged
    assert edge.get(old_link) == old_body
