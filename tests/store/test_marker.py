"""The store marker: written once before the first upload, and what a publish checks before
it trusts the published index (SPEC §6)."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from memora_cdn.core.model import Doctype
from memora_cdn.errors import StoreWipedError
from memora_cdn.store.base import MARKER
from memora_cdn.store.local import FileStore
from memora_cdn.store.marker import ensure_marker, write_marker
from sitekit import Site


def test_a_new_store_is_marked_once_with_its_identity_and_a_random_id(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "cdn")
    ensure_marker(store, lambda: 0)
    marker = orjson.loads(store.get(MARKER) or b"")
    assert marker["identity"] == store.identity
    assert len(marker["store_id"]) == 32
    ensure_marker(store, lambda: 7)  # marked: the index is trusted, the marker kept as is
    assert orjson.loads(store.get(MARKER) or b"") == marker
    assert FileStore(tmp_path / "other").identity != store.identity


def test_a_store_the_index_knows_without_its_marker_is_refused(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "cdn")
    with pytest.raises(StoreWipedError) as caught:
        ensure_marker(store, lambda: 7)
    assert (caught.value.store, caught.value.indexed) == (store.identity, 7)
    assert store.get(MARKER) is None


def test_a_store_marked_by_another_build_meanwhile_is_trusted(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "cdn")

    def meanwhile() -> int:  # another build marks the store and records its first uploads
        write_marker(store, "a" * 32)
        return 3

    ensure_marker(store, meanwhile)
    assert orjson.loads(store.get(MARKER) or b"")["store_id"] == "a" * 32


def test_removing_a_plan_from_a_store_that_lost_its_marker_writes_nothing(tmp_path: Path) -> None:
    site = Site(tmp_path)
    try:
        site.build.plan("X", subjects=["S"])
        site.build.plan("Y", subjects=["S"])
        site.build.subject("S", is_public=True)
        site.build.insert()
        for plan in ("X", "Y"):
            site.app.publisher.publish(plan)
        shutil.rmtree(site.store.root)  # the store was emptied behind memora-cdn's back
        site.update(Doctype.PLAN, "X", is_published=0)

        with pytest.raises(StoreWipedError):
            site.app.publisher.publish("X")

        assert list(site.store.list_keys()) == []  # no plans.json linking a manifest gone
        assert site.app.state.publications(site.store.identity) != []  # the index is kept
    finally:
        site.close()
