"""`verify`: the store against the published index, and the repair that makes them agree again.

Runs on every store of `store_under_test` (a folder, an S3 bucket, a bucket with a prefix),
with plans really published by `Publisher` from a small SQLite catalogue.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
import sqlalchemy as sa

from catalogue import CatalogueBuilder, create_content_schema
from defaults import default_publish_options
from fakes.s3server import S3FaultProxy, s3_store
from memora_cdn.core import paths
from memora_cdn.core.documents import Published, content_hash, dumps, sha256_hex
from memora_cdn.errors import (
    RepairRefusedError,
    StoreError,
    StoreListingError,
    StoreWipedError,
)
from memora_cdn.publish import Publisher
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateRepository
from memora_cdn.store.base import JSON_CONTENT_TYPE, MARKER, ObjectStore
from memora_cdn.store.local import FileStore
from memora_cdn.store.verify import REPAIR_DELETE_LIMIT, VerifyReport, matches, verify

if TYPE_CHECKING:
    from store.conftest import StoreUnderTest

PLAIN = "P1"
AWKWARD = "Plan 2/ب"
"""A plan whose folder name is percent-encoded: `plans/Plan%202%2F%D8%A8/`."""
LONG = "الخطة الدراسية للصف العاشر — " * 4
"""A plan whose folder name is cut and hashed: its name cannot be read back from it."""


class Site:
    """A catalogue of two plans sharing a subject, its state, a store and a publisher."""

    def __init__(self, engine: sa.Engine, store: ObjectStore, *more_plans: str) -> None:
        create_content_schema(engine)
        self.state = StateRepository(engine)
        self.state.create_schema()
        self.store = store
        ticks = itertools.count(1_790_000_000, 60)
        self.publisher = Publisher(
            SqlSource(engine),
            self.state,
            store,
            default_publish_options(upload_concurrency=4),
            clock=lambda: float(next(ticks)),
        )
        build = CatalogueBuilder(engine)
        build.plan(PLAIN, subjects=["MATH"])
        build.plan(AWKWARD, subjects=["MATH"])
        for plan in more_plans:
            build.plan(plan, subjects=["MATH"])
        build.subject("MATH", title="Mathematics", is_public=True)
        build.track("T1", "MATH")
        build.unit("U1", "T1")
        build.topic("TP1", "U1")
        for n in (1, 2, 3):
            build.lesson(f"L{n}", "TP1", title=f"Lesson {n}", sort_order=n)
            build.stage(f"L{n}", name=f"L{n}-S1", type="Text", config={"body": "…"})
        build.insert()

    def publish(self, *plans: str) -> None:
        for plan in plans:
            self.publisher.publish(plan)

    def put(self, key: str, body: bytes) -> None:
        self.store.put(key, body, content_type=JSON_CONTENT_TYPE, cache_control="no-cache")

    def assert_store_and_index_agree(self) -> None:
        indexed = {
            key
            for p in self.state.publications(self.store.identity)
            for key in self.state.published(self.store.identity, p.plan_id)
        }
        assert set(self.store.list_keys("plans/")) == indexed
        report = verify(self.store, self.state, repair=False)
        assert report.ok, report
        assert report.checked == len(indexed)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'site.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def site(sqlite_engine: sa.Engine, store_under_test: StoreUnderTest) -> Site:
    return Site(sqlite_engine, store_under_test.store)


def test_a_fresh_publish_verifies_clean_and_repair_changes_nothing(site: Site) -> None:
    site.publish(PLAIN, AWKWARD)
    before = sorted(site.store.list_keys())
    report = verify(site.store, site.state, repair=True)
    # verify compares the plan folders with the index; plans.json and schemas/v1/ are the
    # store's own files, rewritten by the next publish when missing.
    in_plans = [key for key in before if key.startswith("plans/")]
    assert report == VerifyReport(
        checked=len(in_plans), missing=(), unexpected=(), corrupt=(), repaired=True
    )
    assert report.ok
    assert sorted(site.store.list_keys()) == before
    site.assert_store_and_index_agree()


def test_a_stored_file_with_its_keys_in_another_order_still_verifies(site: Site) -> None:
    site.publish(PLAIN)
    unit = paths.unit_key(PLAIN, "U1")
    document = orjson.loads(site.store.get(unit) or b"")
    reordered = orjson.dumps(dict(reversed(document.items())), option=orjson.OPT_SORT_KEYS)
    assert reordered != site.store.get(unit)
    site.put(unit, reordered)

    report = verify(site.store, site.state, repair=False)

    assert (report.corrupt, report.missing, report.unexpected) == ((), (), ())
    assert report.ok


def test_verify_finds_missing_unexpected_and_corrupt_files_and_changes_nothing(
    site: Site, store_under_test: StoreUnderTest
) -> None:
    site.publish(PLAIN, AWKWARD)
    lesson = paths.lesson_key(PLAIN, "L2")
    unit = paths.unit_key(PLAIN, "U1")
    manifest = paths.manifest_key(AWKWARD)
    stray = paths.lesson_key(PLAIN, "OLD")
    orphan = paths.manifest_key("GONE")
    site.store.delete([lesson])
    site.put(unit, site.store.get(unit).replace(b"Lesson", b"Lessen"))  # type: ignore[union-attr]
    site.put(manifest, b"not json")
    for key in (stray, orphan, "plans/loose.json"):
        site.put(key, b"{}")
    if store_under_test.proxy is not None:
        store_under_test.proxy.reset()

    report = verify(site.store, site.state, repair=False)

    assert report.missing == (lesson,)
    assert report.unexpected == tuple(sorted([orphan, stray, "plans/loose.json"]))
    assert report.corrupt == tuple(sorted([unit, manifest]))
    assert (report.ok, report.repaired, report.plans_to_rebuild) == (False, False, ())
    assert site.store.get(stray) == b"{}"
    assert lesson in site.state.published(site.store.identity, PLAIN)
    if store_under_test.proxy is not None:
        assert store_under_test.proxy.delete_batches == []
        assert sum(store_under_test.proxy.puts.values()) == 0


def test_repair_then_a_rebuild_of_the_named_plans_makes_store_and_index_agree(
    site: Site, store_under_test: StoreUnderTest
) -> None:
    site.publish(PLAIN, AWKWARD)
    lesson = paths.lesson_key(PLAIN, "L2")
    shard = paths.search_index_key(AWKWARD)
    stray = paths.lesson_key(PLAIN, "OLD")
    site.store.delete([lesson])
    site.put(shard, site.store.get(shard) + b" ")  # type: ignore[operator]
    for key in (stray, paths.manifest_key("GONE"), paths.lesson_key("GONE", "L1")):
        site.put(key, b"{}")

    report = verify(site.store, site.state, repair=True)

    assert (report.missing, report.corrupt) == ((lesson,), (shard,))
    assert report.plans_to_rebuild == tuple(sorted([PLAIN, AWKWARD, "GONE"]))
    # The GONE folder's manifest is a current manifest (clients may hold it): it stays until
    # GONE's rebuild, which finds no such plan, removes the folder.
    assert report.linked == (paths.manifest_key("GONE"),)
    left = [key for key in site.store.list_keys() if key.startswith(("plans/GONE/", stray))]
    assert left == [paths.manifest_key("GONE")]
    assert lesson not in site.state.published(site.store.identity, PLAIN)
    assert shard not in site.state.published(site.store.identity, AWKWARD)
    again = verify(site.store, site.state, repair=False)
    assert (again.missing, again.corrupt) == ((), ())
    assert again.unexpected == (paths.manifest_key("GONE"), shard)  # until rebuilt

    if store_under_test.proxy is not None:
        store_under_test.proxy.reset()
    site.publish(*report.plans_to_rebuild)

    site.assert_store_and_index_agree()
    assert orjson.loads(site.store.get(lesson) or b"")["id"] == "L2"
    if store_under_test.proxy is not None:
        uploaded = set(store_under_test.proxy.puts)
        assert store_under_test.prefix + lesson in uploaded
        assert store_under_test.prefix + shard in uploaded


def test_a_plan_whose_folder_is_cut_and_hashed_is_verified_against_its_own_files(
    sqlite_engine: sa.Engine, store_under_test: StoreUnderTest
) -> None:
    site = Site(sqlite_engine, store_under_test.store, LONG)
    assert paths.segment(LONG).endswith("~" + sha256_hex(LONG.encode())[:16])
    site.publish(LONG, PLAIN)
    site.assert_store_and_index_agree()
    lesson = paths.lesson_key(LONG, "L2")
    site.store.delete([lesson])

    report = verify(site.store, site.state, repair=True)

    assert (report.missing, report.unexpected, report.corrupt) == ((lesson,), (), ())
    assert report.plans_to_rebuild == (LONG,)
    site.publish(LONG)
    site.assert_store_and_index_agree()


def test_a_failed_upload_through_the_s3_server_leaves_store_and_index_agreeing(
    sqlite_engine: sa.Engine, s3_proxy: S3FaultProxy, s3_bucket: str
) -> None:
    store = s3_store(s3_proxy.endpoint, s3_bucket, "cdn", max_attempts=1)
    site = Site(sqlite_engine, store)
    # The store's marker is the 1st PUT; the 5th document upload fails, and so do its retries.
    s3_proxy.fail_puts(nth=6, times=None)
    with pytest.raises(StoreError, match="InternalError"):
        site.publish(PLAIN)
    assert len(s3_proxy.failed_puts) == 2  # the attempt and its one retry
    landed = set(site.store.list_keys())
    assert landed == {
        *(paths.lesson_key(PLAIN, f"L{n}") for n in (1, 2, 3)),
        "plans/P1/units/U1.json",
    }
    site.assert_store_and_index_agree()

    s3_proxy.reset()
    site.publish(PLAIN)
    site.assert_store_and_index_agree()
    assert not any(count > 1 for count in s3_proxy.puts.values())
    assert not {f"cdn/{key}" for key in landed} & set(s3_proxy.puts)  # landed once, kept


# -- what "corrupt" means ------------------------------------------------------------------

CONTENT = {"schema_version": 1, "id": "L1", "title": "Lesson 1"}
BODY = dumps(
    {"schema_version": 1, "version": 7, "generated_at": "x", "id": "L1", "title": "Lesson 1"}
)
ENTRY = Published(content_hash(CONTENT), 7, len(BODY))
REORDERED = dumps(
    {"title": "Lesson 1", "id": "L1", "generated_at": "x", "version": 7, "schema_version": 1}
)


@pytest.mark.parametrize(
    ("body", "entry", "expected"),
    [
        pytest.param(BODY, ENTRY, True, id="as-published"),
        pytest.param(BODY, Published(ENTRY.sha256, 7, 0), True, id="size-unknown"),
        pytest.param(REORDERED, ENTRY, True, id="keys-in-another-order"),
        pytest.param(None, ENTRY, False, id="absent"),
        pytest.param(BODY + b" ", ENTRY, False, id="other-size"),
        pytest.param(BODY.replace(b"7", b"8"), ENTRY, False, id="other-version"),
        pytest.param(BODY.replace(b"Lesson", b"Lessen"), ENTRY, False, id="other-content"),
        pytest.param(b"x" * len(BODY), ENTRY, False, id="not-json"),
        pytest.param(b"[]", Published(ENTRY.sha256, 7, 2), False, id="not-an-object"),
    ],
)
def test_a_body_matches_its_index_entry_only_if_size_version_and_content_hash_agree(
    body: bytes | None, entry: Published, expected: bool
) -> None:
    assert matches(body, entry) is expected


# -- repair safety (issue 7, items 5–7) ------------------------------------------------------


class ListingAs:
    """The store, except that listing it finds nothing (a wrong path, bucket or prefix that
    resolved to the same identity, an unmounted folder) or fails."""

    def __init__(self, store: ObjectStore, failure: str | None = None) -> None:
        self.inner = store
        self.failure = failure

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    @property
    def identity(self) -> str:
        return self.inner.identity

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        if self.failure is not None:
            raise StoreError(prefix, self.failure)
        return iter(())


def snapshot(site: Site) -> tuple[dict[str, bytes | None], dict[str, dict[str, Published]]]:
    """Every body in the store (with the marker and partial files), and the whole index."""
    keys = [*site.store.list_keys(), MARKER, *site.store.partials()]
    identity = site.store.identity
    index = {
        p.plan_id: site.state.published(identity, p.plan_id)
        for p in site.state.publications(identity)
    }
    return {key: site.store.get(key) for key in keys}, index


def test_verify_repair_against_an_empty_listing_keeps_the_index_and_deletes_nothing(
    site: Site,
) -> None:
    site.publish(PLAIN, AWKWARD)
    before = snapshot(site)
    indexed = sum(len(entries) for entries in before[1].values())

    for repair in (False, True):
        with pytest.raises(StoreListingError) as caught:
            verify(ListingAs(site.store), site.state, repair=repair)  # type: ignore[arg-type]
        assert str(caught.value) == (
            f"store {site.store.identity} lists no files under plans/ but the index says it"
            f" holds {indexed} there: nothing was changed; check the store setting (folder,"
            " bucket, prefix), and if the store really was emptied, run"
            " `memora-cdn verify --repair --yes` to upload everything again"
        )
        assert (caught.value.store, caught.value.indexed) == (site.store.identity, indexed)
    assert snapshot(site) == before
    # Run again on the real listing: nothing is a stray, nothing is deleted.
    report = verify(site.store, site.state, repair=True)
    assert (report.ok, report.deleted) == (True, ())
    assert snapshot(site) == before


def test_a_store_that_cannot_be_listed_is_an_error_naming_it_and_the_index(site: Site) -> None:
    site.publish(PLAIN)
    before = snapshot(site)
    broken = ListingAs(site.store, failure="ListObjectsV2 failed: AccessDenied (HTTP 403)")
    with pytest.raises(StoreListingError) as caught:
        verify(broken, site.state, repair=True)  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"store {site.store.identity} cannot be listed (ListObjectsV2 failed: AccessDenied"
        f" (HTTP 403)) but the index says it holds {len(before[1][PLAIN])} files there:"
        " nothing was changed"
    )
    assert snapshot(site) == before


def test_repair_never_deletes_a_file_a_manifest_links(site: Site) -> None:
    site.publish(PLAIN, AWKWARD)
    identity = site.store.identity
    lesson = paths.lesson_key(PLAIN, "L2")
    stray = paths.lesson_key(PLAIN, "OLD")
    site.put(stray, b"{}")
    site.state.record_deletes(identity, PLAIN, [lesson])  # the index lost one row ...
    site.state.forget_plan(identity, AWKWARD)  # ... and a whole plan
    live = set(site.store.list_keys()) - {stray}

    report = verify(site.store, site.state, repair=True)

    assert report.deleted == (stray,)
    assert lesson in report.linked
    assert paths.manifest_key(AWKWARD) in report.linked
    assert set(report.linked) == {lesson} | {k for k in live if k.startswith("plans/Plan")}
    assert set(site.store.list_keys()) == live
    assert report.plans_to_rebuild == (AWKWARD,)
    site.publish(*report.plans_to_rebuild, PLAIN)
    site.assert_store_and_index_agree()


def test_dry_run_changes_nothing(site: Site, store_under_test: StoreUnderTest) -> None:
    site.publish(PLAIN, AWKWARD)
    lesson = paths.lesson_key(PLAIN, "L2")
    unit = paths.unit_key(AWKWARD, "U1")
    stray = paths.lesson_key(PLAIN, "OLD")
    site.store.delete([lesson, MARKER])
    site.put(unit, b"{}")
    site.put(stray, b"{}")
    if isinstance(site.store, FileStore):
        (site.store.root / "plans/P1/units/.tmp-k1ll3d.part").write_bytes(b"{")
    before = snapshot(site)
    if store_under_test.proxy is not None:
        store_under_test.proxy.reset()

    report = verify(site.store, site.state, repair=True, dry_run=True)

    partial = ("plans/P1/units/.tmp-k1ll3d.part",) if isinstance(site.store, FileStore) else ()
    assert (report.dry_run, report.repaired, report.marker_missing) == (True, False, True)
    assert report.deleted == tuple(sorted((stray, *partial)))
    assert report.partial == partial
    assert report.reupload == tuple(sorted([lesson, unit]))
    assert report.plans_to_rebuild == tuple(sorted([PLAIN, AWKWARD]))
    assert snapshot(site) == before
    if store_under_test.proxy is not None:
        assert store_under_test.proxy.delete_batches == []
        assert sum(store_under_test.proxy.puts.values()) == 0


def test_repair_refuses_mass_delete_without_yes(site: Site) -> None:
    site.publish(PLAIN)
    strays = [paths.lesson_key(PLAIN, f"OLD{n:02}") for n in range(REPAIR_DELETE_LIMIT + 1)]
    for key in strays:
        site.put(key, b"{}")
    before = snapshot(site)

    with pytest.raises(RepairRefusedError) as caught:
        verify(site.store, site.state, repair=True)
    assert str(caught.value) == (
        "repair would delete 11 files, more than 10: nothing was changed; run"
        " `memora-cdn verify --repair --dry-run` to see them, then pass --yes"
    )
    assert snapshot(site) == before

    site.store.delete(strays[:1])  # a handful (10) needs no --yes
    assert verify(site.store, site.state, repair=True).deleted == tuple(strays[1:])
    for key in strays:
        site.put(key, b"{}")
    assert verify(site.store, site.state, repair=True, yes=True).deleted == tuple(strays)
    site.assert_store_and_index_agree()


def test_a_store_that_lost_its_marker_is_not_trusted_and_repair_restores_it(
    site: Site, store_under_test: StoreUnderTest
) -> None:
    site.publish(PLAIN, AWKWARD)
    indexed = site.state.indexed_files(site.store.identity)
    site.store.delete([*site.store.list_keys(), MARKER])  # emptied (or swapped for an empty one)

    with pytest.raises(StoreWipedError) as caught:
        site.publish(PLAIN)
    assert str(caught.value) == (
        f"store {site.store.identity} has no .memora-cdn-store.json but the index says it"
        f" holds {indexed} files there: it was emptied or swapped, so nothing was uploaded;"
        " run `memora-cdn verify` to compare them, then `memora-cdn verify --repair` to"
        " upload what is missing"
    )
    assert list(site.store.list_keys()) == []
    with pytest.raises(StoreListingError):
        verify(site.store, site.state, repair=True)

    report = verify(site.store, site.state, repair=True, yes=True)

    assert report.deleted == ()
    assert len(report.reupload) == indexed
    assert site.store.get(MARKER) is not None
    site.publish(*report.plans_to_rebuild)
    site.assert_store_and_index_agree()


def test_killed_build_leftovers_are_removed_on_next_build(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "cdn")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'site.db'}")
    site = Site(engine, store)
    site.publish(PLAIN, AWKWARD)
    mine = store.root / "plans/P1/lessons/.tmp-k1ll3d.part"
    theirs = store.root / paths.plan_prefix(AWKWARD) / "units/.tmp-other.part"
    for leftover in (mine, theirs):
        leftover.write_bytes(b'{"id":"L1","stages":[{"config":')  # a lesson body, cut short

    site.publish(PLAIN)

    assert not mine.exists()
    assert theirs.exists()  # another plan's folder: its own build (or verify) removes it
    assert verify(store, site.state, repair=False).partial == (
        f"{paths.plan_prefix(AWKWARD)}units/.tmp-other.part",
    )
    engine.dispose()


def test_killed_build_leftovers_go_with_their_plan_when_it_is_removed(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "cdn")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'site.db'}")
    site = Site(engine, store)
    site.publish(PLAIN, AWKWARD)
    (store.root / "plans/P1/lessons/.tmp-k1ll3d.part").write_bytes(b"{")
    with engine.begin() as conn:
        conn.execute(sa.text('UPDATE "tabMemora Academic Plan" SET is_published = 0'))

    assert site.publisher.publish(PLAIN).removed

    assert not (store.root / "plans/P1").exists()
    engine.dispose()


def test_verify_reports_partial_files_and_repair_removes_every_one(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "cdn")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'site.db'}")
    site = Site(engine, store)
    site.publish(PLAIN)
    left = [".tmp-a.part", "plans/P1/.tmp-b.part", "plans/GONE/lessons/.tmp-c.part"]
    for name in left:
        (store.root / name).parent.mkdir(parents=True, exist_ok=True)
        (store.root / name).write_bytes(b"{")

    assert verify(store, site.state, repair=False).partial == tuple(sorted(left))
    report = verify(store, site.state, repair=True)

    assert report.deleted == tuple(sorted(left))
    assert store.partials() == []
    assert not (store.root / "plans/GONE").exists()
    site.assert_store_and_index_agree()
    engine.dispose()
