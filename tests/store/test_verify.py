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
from fakes.s3server import S3FaultProxy, s3_store
from memora_cdn.core import paths
from memora_cdn.core.documents import Published, dumps, sha256_hex
from memora_cdn.errors import StoreError
from memora_cdn.publish import Publisher, PublishOptions
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateStore
from memora_cdn.store.base import JSON_CONTENT_TYPE, ObjectStore
from memora_cdn.store.verify import VerifyReport, matches, verify

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
        self.state = StateStore(engine)
        self.state.create_schema()
        self.store = store
        ticks = itertools.count(1_790_000_000, 60)
        self.publisher = Publisher(
            SqlSource(engine),
            self.state,
            store,
            PublishOptions(upload_concurrency=4),
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
            key for p in self.state.publications() for key in self.state.published(p.plan_id)
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
    assert lesson in site.state.published(PLAIN)
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
    assert not any(key.startswith(("plans/GONE/", stray)) for key in site.store.list_keys())
    assert lesson not in site.state.published(PLAIN)
    assert shard not in site.state.published(AWKWARD)
    again = verify(site.store, site.state, repair=False)
    assert (again.missing, again.unexpected, again.corrupt) == ((), (shard,), ())  # until rebuilt

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
    s3_proxy.fail_puts(nth=5, times=None)  # the 5th upload fails, and so do its retries
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
ENTRY = Published(sha256_hex(dumps(CONTENT)), 7, len(BODY))


@pytest.mark.parametrize(
    ("body", "entry", "expected"),
    [
        pytest.param(BODY, ENTRY, True, id="as-published"),
        pytest.param(BODY, Published(ENTRY.sha256, 7, 0), True, id="size-unknown"),
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
