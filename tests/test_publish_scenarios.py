"""Publishing a plan end to end (SPEC §2–§4): the acceptance scenarios of the foundation."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from catalogue import CatalogueBuilder, create_content_schema
from defaults import default_publish_options, default_render_options
from memora_cdn.contracts.schemas import schema_body
from memora_cdn.contracts.tree import validate_tree
from memora_cdn.core import paths
from memora_cdn.core.links import resolve_link
from memora_cdn.core.model import Doctype, SyncStatus
from memora_cdn.core.paths import DocKind
from memora_cdn.errors import InvalidDocumentsError, KeyCollisionError, StoreError
from memora_cdn.publish import Publisher, PublishResult
from memora_cdn.purge.base import PurgeReport
from memora_cdn.source.schema import content_metadata
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateRepository
from memora_cdn.store.local import FileStore
from memora_cdn.store.marker import write_marker

CONTENT = content_metadata()


class RecordingStore(FileStore):
    """A folder store that remembers every write and delete, in order."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.ops: list[tuple[str, str]] = []
        self.fail_on_put: int | None = None

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        if self.fail_on_put is not None and len(self.puts()) + 1 == self.fail_on_put:
            self.fail_on_put = None
            raise StoreError(key, "injected failure")
        self.ops.append(("put", key))
        super().put(key, body, content_type=content_type, cache_control=cache_control)

    def delete(self, keys: Sequence[str]) -> None:
        self.ops.extend(("delete", key) for key in keys)
        super().delete(keys)

    def puts(self) -> list[str]:
        return [key for op, key in self.ops if op == "put"]

    def reset(self) -> None:
        self.ops.clear()


class World:
    """A source database, state, a recording folder store and a publisher with a fake clock."""

    def __init__(self, engine: sa.Engine, root: Path, **render: Any) -> None:
        create_content_schema(engine)
        self.engine = engine
        self.state = StateRepository(engine)
        self.state.create_schema()
        self.store = RecordingStore(root)
        write_marker(self.store)  # marked up front, so `ops` holds the documents only
        self.store.reset()
        self.ticks = itertools.count(1_790_000_000, 60)
        self.publisher = Publisher(
            SqlSource(engine),
            self.state,
            self.store,
            default_publish_options(render=default_render_options(**render), upload_concurrency=4),
            clock=lambda: float(next(self.ticks)),
        )
        self.build = CatalogueBuilder(engine)

    def publish(self, *plans: str) -> list[PublishResult]:
        self.build.insert()
        return [self.publisher.publish(plan) for plan in plans]

    def doc(self, key: str) -> dict[str, Any]:
        body = self.store.get(key)
        assert body is not None, f"{key} was not published"
        loaded: dict[str, Any] = json.loads(body)
        return loaded

    def keys(self, plan: str) -> set[str]:
        return set(self.store.list_keys(f"plans/{plan}/"))

    def update(self, doctype: Doctype, name: str, **values: object) -> None:
        table = CONTENT.tables[doctype.table]
        with self.engine.begin() as conn:
            conn.execute(sa.update(table).where(table.c.name == name).values(**values))

    def delete_row(self, doctype: Doctype, name: str) -> None:
        table = CONTENT.tables[doctype.table]
        with self.engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.name == name))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'site.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def world(sqlite_engine: sa.Engine, tmp_path: Path) -> World:
    return World(sqlite_engine, tmp_path / "cdn")


def shared_subject(world: World) -> None:
    """Plans X and Y share Subject A (2 units, 2 lessons each); X hides Unit 2."""
    b = world.build
    b.plan("X", subjects=["A"])
    b.plan("Y", subjects=["A"])
    b.subject("A", title="Subject A", is_public=True)
    b.track("T", "A")
    for u in (1, 2):
        b.unit(f"U{u}", "T", sort_order=u)
        b.topic(f"TP{u}", f"U{u}")
        for n in (1, 2, 3):
            b.lesson(f"U{u}L{n}", f"TP{u}", title=f"Lesson {u}.{n}", sort_order=n)
            b.stage(f"U{u}L{n}", name=f"U{u}L{n}-S1", type="Text", config={"body": "…"})
    b.override("X", "Memora Unit", "U2", "Hide")


def subject_units(document: dict[str, Any]) -> list[str]:
    return [unit["id"] for track in document["tracks"] for unit in track["units"]]


# -- visibility and access --------------------------------------------------------------------


def test_plan_hiding_unit_2_omits_it_and_its_subtree_while_plan_sharing_the_subject_shows_it(
    world: World,
) -> None:
    shared_subject(world)
    world.publish("X", "Y")
    assert subject_units(world.doc("plans/X/subjects/A.json")) == ["U1"]
    assert subject_units(world.doc("plans/Y/subjects/A.json")) == ["U1", "U2"]
    x_search = {e["unit_id"] for e in world.doc("plans/X/search_index.json")["entries"]}
    y_search = {e["unit_id"] for e in world.doc("plans/Y/search_index.json")["entries"]}
    assert (x_search, y_search) == ({"U1"}, {"U1", "U2"})
    x_keys = world.keys("X")
    assert "plans/X/units/U2.json" not in x_keys
    assert not {k for k in x_keys if "/lessons/U2L" in k}
    assert {k for k in world.keys("Y") if "/lessons/U2L" in k} == {
        f"plans/Y/lessons/U2L{n}.json" for n in (1, 2, 3)
    }
    assert world.doc("plans/X/manifest.json")["stats"]["lessons"] == 3
    assert world.doc("plans/Y/manifest.json")["stats"]["lessons"] == 6


def test_paid_subject_makes_every_child_paid_except_the_free_preview_unit_subtree(
    world: World,
) -> None:
    b = world.build
    b.plan("P", subjects=["S"])
    b.subject("S", required_item="COURSE-001")
    b.track("T", "S")
    b.unit("U-PAID", "T", sort_order=1)
    b.unit("U-FREE", "T", sort_order=2, is_free_preview=True)
    for unit in ("U-PAID", "U-FREE"):
        b.topic(f"{unit}-TP", unit)
        b.lesson(f"{unit}-L", f"{unit}-TP")
    world.publish("P")
    paid = {
        "is_published": True,
        "access_level": "paid",
        "is_sold_separately": False,
        "parent_item_required": True,
        "required_item": "COURSE-001",
    }
    free = {
        "is_published": True,
        "access_level": "free_preview",
        "is_sold_separately": False,
        "parent_item_required": False,
    }
    subject = world.doc("plans/P/subjects/S.json")
    assert subject["access"] == {**paid, "parent_item_required": False}
    assert subject["tracks"][0]["access"] == paid
    paid_unit, free_unit = (
        world.doc("plans/P/units/U-PAID.json"),
        world.doc("plans/P/units/U-FREE.json"),
    )
    assert paid_unit["access"] == paid
    assert paid_unit["topics"][0]["access"] == paid
    assert world.doc("plans/P/lessons/U-PAID-L.json")["access"] == paid
    assert free_unit["access"] == free
    assert free_unit["topics"][0]["access"] == free
    assert free_unit["topics"][0]["lessons"][0]["access"] == free
    assert world.doc("plans/P/lessons/U-FREE-L.json")["access"] == free


def test_dlc_track_subject_unlocked_track_and_free_unit_under_public_subject(world: World) -> None:
    b = world.build
    b.plan("P", subjects=["PAID", "OPEN"])
    b.subject("PAID", required_item="COURSE-001")
    b.track("DLC", "PAID", required_item="DLC-GEOMETRY", is_sold_separately=True, sort_order=1)
    b.track("BUNDLED", "PAID", sort_order=2)
    b.subject("OPEN", is_public=True)
    b.track("OT", "OPEN")
    b.unit("OU", "OT")
    world.publish("P")
    tracks = {t["id"]: t["access"] for t in world.doc("plans/P/subjects/PAID.json")["tracks"]}
    assert (tracks["DLC"]["is_sold_separately"], tracks["DLC"]["parent_item_required"]) == (
        True,
        False,
    )
    assert tracks["DLC"]["required_item"] == "DLC-GEOMETRY"
    assert (tracks["BUNDLED"]["is_sold_separately"], tracks["BUNDLED"]["parent_item_required"]) == (
        False,
        True,
    )
    unit = world.doc("plans/P/units/OU.json")
    assert unit["access"] == {
        "is_published": True,
        "access_level": "public",
        "is_sold_separately": False,
        "parent_item_required": False,
    }


def test_unpublished_lesson_is_exported_nowhere_and_its_topic_lists_and_counts_skip_it(
    world: World,
) -> None:
    b = world.build
    b.plan("P", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    b.lesson("L1", "TP", sort_order=1)
    b.lesson("L2", "TP", sort_order=2, is_published=False, title="Secret draft")
    b.lesson("L3", "TP", sort_order=3)
    world.publish("P")
    keys = world.keys("P")
    assert "plans/P/lessons/L2.json" not in keys
    everything = b"".join(world.store.get(k) or b"" for k in keys).decode()
    assert "Secret draft" not in everything
    assert '"L2"' not in everything
    unit = world.doc("plans/P/units/U.json")
    assert [lesson["id"] for lesson in unit["topics"][0]["lessons"]] == ["L1", "L3"]
    assert unit["stats"]["lessons"] == 2
    assert world.doc("plans/P/lessons/L1.json")["navigation"]["next"]["id"] == "L3"
    assert world.doc("plans/P/search_index.json")["total_lessons"] == 2


# -- search index -----------------------------------------------------------------------------


def lessons_in(world: World, plan: str, subjects: int, lessons: int, title: str = "Lesson") -> None:
    b = world.build
    b.plan(plan, subjects=[f"{plan}-S{s}" for s in range(subjects)])
    for s in range(subjects):
        b.subject(f"{plan}-S{s}")
        b.track(f"{plan}-S{s}-T", f"{plan}-S{s}")
        b.unit(f"{plan}-S{s}-U", f"{plan}-S{s}-T")
        b.topic(f"{plan}-S{s}-TP", f"{plan}-S{s}-U")
    for n in range(lessons):
        b.lesson(
            f"{plan}-L{n:04}", f"{plan}-S{n % subjects}-TP", title=f"{title} {n}", sort_order=n
        )


def test_three_subjects_and_50_lessons_make_one_search_index_with_50_entries(world: World) -> None:
    lessons_in(world, "P", subjects=3, lessons=50)
    world.publish("P")
    index = world.doc("plans/P/search_index.json")
    assert (index["is_sharded"], index["total_lessons"], len(index["entries"])) == (False, 50, 50)
    assert not any("/search/" in key for key in world.keys("P"))


@pytest.mark.slow
def test_501_lessons_shard_the_index_by_subject_with_every_shard_within_100000_bytes(
    world: World,
) -> None:
    lessons_in(world, "P", subjects=2, lessons=501, title="درس طويل العنوان " * 8)
    world.publish("P")
    index = world.doc("plans/P/search_index.json")
    assert (index["is_sharded"], index["total_lessons"]) == (True, 501)
    assert "entries" not in index
    shard_keys = {key for key in world.keys("P") if "/search/" in key}
    index_key = "plans/P/search_index.json"
    assert {resolve_link(index_key, s["url"]) for s in index["shards"]} == shard_keys
    sizes = [len(world.store.get(key) or b"") for key in shard_keys]
    assert max(sizes) <= 100_000
    assert len(shard_keys) > 2, "subjects this large are split into numbered parts"
    assert sum(len(world.doc(k)["entries"]) for k in shard_keys) == 501
    assert validate_tree(world.store.root) == []


# -- incremental publishing -----------------------------------------------------------------


def test_publishing_twice_with_no_change_writes_nothing_the_second_time(world: World) -> None:
    shared_subject(world)
    first = world.publish("X", "Y")
    assert all(r.counts.files_uploaded > 0 for r in first)
    world.store.reset()
    second = world.publish("X", "Y")
    assert world.store.ops == []
    assert [r.counts.files_uploaded for r in second] == [0, 0]
    assert [r.counts.files_unchanged for r in second] == [r.files for r in first]


@pytest.mark.parametrize("plan_has_lesson", [True])
def test_changing_one_stage_config_rewrites_exactly_5_files_in_each_plan_with_the_lesson(
    world: World, plan_has_lesson: bool
) -> None:
    # 5, not 4, since search entries carry `?v=` (SPEC §3): the search index links the lesson.
    shared_subject(world)
    lessons_in(world, "Z", subjects=1, lessons=3)  # a plan without the lesson
    world.publish("X", "Y", "Z")
    world.store.reset()
    world.update(Doctype.LESSON_STAGE, "U1L2-S1", config='{"body": "changed"}')
    world.publish("X", "Y", "Z")
    for plan in ("X", "Y"):
        written = {key for key in world.store.puts() if key.startswith(f"plans/{plan}/")}
        assert written == {
            f"plans/{plan}/lessons/U1L2.json",
            f"plans/{plan}/units/U1.json",
            f"plans/{plan}/subjects/A.json",
            f"plans/{plan}/search_index.json",
            f"plans/{plan}/manifest.json",
        }
    assert not [key for key in world.store.puts() if key.startswith("plans/Z/")]
    assert world.doc("plans/X/lessons/U1L2.json")["stages"][0]["config"] == {"body": "changed"}


def test_changing_a_lesson_title_rewrites_also_its_neighbours_and_the_search_index(
    world: World,
) -> None:
    shared_subject(world)
    world.publish("X", "Y")
    world.store.reset()
    world.update(Doctype.LESSON, "U1L2", title="A new title")
    world.publish("X", "Y")
    for plan in ("X", "Y"):
        written = {key for key in world.store.puts() if key.startswith(f"plans/{plan}/")}
        assert written == {
            f"plans/{plan}/lessons/U1L2.json",
            f"plans/{plan}/lessons/U1L1.json",
            f"plans/{plan}/lessons/U1L3.json",
            f"plans/{plan}/units/U1.json",
            f"plans/{plan}/subjects/A.json",
            f"plans/{plan}/search_index.json",
            f"plans/{plan}/manifest.json",
        }
    assert world.doc("plans/Y/lessons/U1L1.json")["navigation"]["next"]["title"] == "A new title"


@pytest.mark.slow
def test_changing_a_lesson_title_in_a_sharded_plan_rewrites_its_shard_too(world: World) -> None:
    lessons_in(world, "P", subjects=2, lessons=510)
    world.publish("P")
    world.store.reset()
    world.update(Doctype.LESSON, "P-L0100", title="Renamed")
    world.publish("P")
    # L0100 sits in subject 0's topic between L0098 and L0102 (lessons alternate subjects).
    assert set(world.store.puts()) == {
        "plans/P/lessons/P-L0100.json",
        "plans/P/lessons/P-L0098.json",
        "plans/P/lessons/P-L0102.json",
        "plans/P/units/P-S0-U.json",
        "plans/P/subjects/P-S0.json",
        "plans/P/search/P-S0.json",
        "plans/P/search_index.json",
        "plans/P/manifest.json",
    }


def test_uploads_go_children_first_manifest_last_and_stale_files_go_after_it(
    world: World,
) -> None:
    shared_subject(world)
    world.publish("Y")
    world.store.reset()
    world.delete_row(Doctype.LESSON, "U2L3")
    world.publish("Y")
    ops = world.store.ops
    assert ops[-1] == ("delete", "plans/Y/lessons/U2L3.json")
    puts = [key for op, key in ops if op == "put"]
    assert puts[-1] == "plans/Y/manifest.json"
    order = ["/lessons/", "/units/", "/subjects/", "search_index", "manifest"]
    ranks = [next(i for i, part in enumerate(order) if part in key) for key in puts]
    assert ranks == sorted(ranks)


def test_a_failed_upload_resumes_without_reuploading_what_landed(world: World) -> None:
    shared_subject(world)
    world.build.insert()
    world.store.fail_on_put = 4
    with pytest.raises(StoreError, match="injected failure"):
        world.publisher.publish("Y")
    landed = world.store.puts()
    assert 3 <= len(landed) <= 5, "uploads in flight finish; no later kind starts"
    assert all("/lessons/" in key for key in landed)
    assert set(world.state.published(world.store.identity, "Y")) == set(landed)
    assert "plans/Y/manifest.json" not in world.keys("Y")
    log = world.state.sync_log(plan="Y")[0]
    assert log.status is SyncStatus.FAILED
    assert log.error_message is not None
    assert log.error_message.startswith("store error on 'plans/Y/lessons/")
    assert log.error_message.endswith("': injected failure")
    world.store.reset()
    world.publish("Y")
    assert not set(world.store.puts()) & set(landed)
    assert validate_tree(world.store.root) == []


def test_a_plan_that_renders_an_invalid_document_uploads_nothing(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    world = World(sqlite_engine, tmp_path / "cdn", shard_threshold=1, shard_max_bytes=300)
    lessons_in(world, "P", subjects=1, lessons=2, title="x" * 140)
    with pytest.raises(InvalidDocumentsError) as caught:
        world.publish("P")
    assert "over shard_max_bytes=300" in str(caught.value)
    assert world.store.ops == []
    log = world.state.sync_log(plan="P")[0]
    assert log.status is SyncStatus.FAILED


# -- plans that go away -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["unpublished", "deleted"])
def test_a_plan_unpublished_or_deleted_has_its_folder_removed(world: World, how: str) -> None:
    shared_subject(world)
    world.publish("X", "Y")
    if how == "unpublished":
        world.update(Doctype.PLAN, "X", is_published=0)
    else:
        world.delete_row(Doctype.PLAN, "X")
    (result,) = world.publish("X")
    assert result.removed
    assert world.keys("X") == set()
    assert world.state.published(world.store.identity, "X") == {}
    assert world.keys("Y")


# -- names ----------------------------------------------------------------------------------


def test_awkward_names_produce_files_inside_the_store_whose_links_resolve(world: World) -> None:
    names = ["../x", "a/b", "Ünïcode name", "n" * 140, "ع" * 140]
    b = world.build
    b.plan("P/1", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    for i, name in enumerate(names):
        b.unit(name, "T", sort_order=i)
        b.topic(f"TP{i}", name)
        b.lesson(name, f"TP{i}")
    world.publish("P/1")
    root = world.store.root
    files = [p for p in root.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(root) for p in files)
    in_plan = [p for p in files if p.is_relative_to(root / "plans")]
    assert len(in_plan) == 1 + 1 + len(names) * 2 + 1  # manifest, subject, units+lessons, index
    # the store's marker, plans.json and schemas/v1/
    assert len(files) == len(in_plan) + 1 + 1 + len(DocKind)
    assert validate_tree(root) == []
    assert not (root.parent / "x.json").exists()


ARABIC_52 = "الدرس الأول: مقدمة في المعادلات الخطية وحل المسائل ١"


@pytest.mark.parametrize(
    ("plan", "lesson"),
    [("P", ARABIC_52), ("خطة " * 60, "L" * 400)],
    ids=["arabic-52-lesson", "long-plan-400-lesson"],
)
def test_a_long_name_is_stored_at_exactly_the_path_its_link_names(
    world: World, plan: str, lesson: str
) -> None:
    b = world.build
    b.plan(plan, subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    b.lesson(lesson, "TP")
    world.publish(plan)
    root = world.store.root
    unit = json.loads((root / paths.unit_key(plan, "U")).read_bytes())
    key = resolve_link(paths.unit_key(plan, "U"), unit["topics"][0]["lessons"][0]["url"])
    assert key == paths.lesson_key(plan, lesson)
    assert all(len(part.encode()) <= 255 for part in key.split("/"))
    assert json.loads((root / key).read_bytes())["id"] == lesson
    assert validate_tree(root) == []


def test_a_split_subject_and_a_subject_named_like_its_part_keep_every_lesson_in_search(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    world = World(sqlite_engine, tmp_path / "cdn", shard_threshold=1, shard_max_bytes=2_000)
    b = world.build
    b.plan("P", subjects=["S", "S.1"])
    for subject, lessons in (("S", 12), ("S.1", 2)):
        b.subject(subject)
        b.track(f"{subject}-T", subject)
        b.unit(f"{subject}-U", f"{subject}-T")
        b.topic(f"{subject}-TP", f"{subject}-U")
        for n in range(lessons):
            b.lesson(f"{subject}-L{n:02}", f"{subject}-TP", title="عنوان " * 10, sort_order=n)
    world.publish("P")
    index = world.doc("plans/P/search_index.json")
    shard_keys = [resolve_link("plans/P/search_index.json", s["url"]) for s in index["shards"]]
    assert "plans/P/search/S.1.json" in shard_keys
    assert "plans/P/search/S/2.json" in shard_keys
    found = sorted(e["lesson_id"] for key in shard_keys for e in world.doc(key)["entries"])
    assert found == sorted([f"S-L{n:02}" for n in range(12)] + ["S.1-L00", "S.1-L01"])
    assert validate_tree(world.store.root) == []


def test_two_lessons_that_would_share_a_key_fail_the_build_naming_both_and_upload_nothing(
    world: World,
) -> None:
    long_name = "a" * 400
    lookalike = paths.segment(long_name)  # a name spelled like the other's cut and hashed key
    b = world.build
    b.plan("P", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    b.lesson(long_name, "TP", sort_order=1)
    b.lesson(lookalike, "TP", sort_order=2)
    with pytest.raises(KeyCollisionError) as caught:
        world.publish("P")
    message = (
        f"plan 'P': lesson {long_name!r} and lesson {lookalike!r} would both be written to"
        f" plans/P/lessons/{lookalike}.json; nothing of the plan was uploaded"
        " (rename one of them)"
    )
    assert str(caught.value) == message
    assert world.store.ops == []
    log = world.state.sync_log(plan="P")[0]
    assert (log.status, log.error_message) == (SyncStatus.FAILED, message)


# -- bad input ------------------------------------------------------------------------------


def test_bad_content_still_publishes_and_the_sync_log_lists_a_warning_for_each(
    world: World,
) -> None:
    shared_subject(world)
    b = world.build
    b.lesson("ORPHAN", "TP1")
    world.publish("Y")
    # Y published ORPHAN; its topic link now names no topic (an orphan of Y's, SPEC §2).
    with world.engine.begin() as conn:
        lessons = CONTENT.tables[Doctype.LESSON.table]
        conn.execute(
            sa.update(lessons).where(lessons.c.name == "ORPHAN").values(parent_topic="TP-GONE")
        )
    b.stage("U1L1", name="BAD-JSON", type="Text", config='{"body": ')
    b.override("Y", "Memora Lesson", "NO-SUCH-LESSON", "Rename", "x")
    b.override("Y", "Memora Unit", "U1", "Teleport")
    b.override("Y", "Memora Unit", "U1", "Set Access Level", "premium")
    (result,) = world.publish("Y")
    log = world.state.sync_log(plan="Y")[0]
    assert log.id == result.log_id
    assert log.status is SyncStatus.SUCCESS
    assert log.warnings == result.warnings
    text = "\n".join(log.warnings)
    assert "Memora Lesson 'ORPHAN': parent Memora Topic 'TP-GONE' not found" in text
    assert "'BAD-JSON'" in text
    assert "NO-SUCH-LESSON" in text
    assert "unknown action 'Teleport'" in text
    assert "invalid access level 'premium'" in text
    assert len(log.warnings) == 5
    stages = world.doc("plans/Y/lessons/U1L1.json")["stages"]
    assert [s["config"] for s in stages] == [{"body": "…"}, {}]


class RecordingPurger:
    """A purger that remembers every URL it was asked to purge, call by call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def purge(self, keys: Sequence[str]) -> PurgeReport:
        self.calls.append(list(keys))
        return PurgeReport(urls=len(keys), requests=1)

    @property
    def purged(self) -> list[str]:
        return [url for call in self.calls for url in call]

    def last(self) -> list[str]:
        return self.calls[-1] if self.calls else []


def test_purged_urls_are_keys_in_url_form_with_the_store_prefix(world: World) -> None:
    # SPEC §4: `cdn_base_url` + the key in URL form, as links write it. Before, the key went
    # as it is, and the CDN decoded `a%20b.json` to a URL it never cached.
    purger = RecordingPurger()
    world.publisher = Publisher(
        SqlSource(world.engine),
        world.state,
        world.store,
        default_publish_options(store_prefix="cdn/v1/"),
        purger=purger,
    )
    b = world.build
    b.plan("P 1", subjects=["S"])
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    b.lesson("50% a b", "TP")
    world.publish("P 1")
    assert "cdn/v1/plans/P%201/lessons/50%25%20a%20b.json" not in purger.purged
    assert "cdn/v1/plans/P%25201/lessons/50%2525%2520a%2520b.json" in purger.purged
    assert "cdn/v1/plans/P%25201/manifest.json" in purger.purged


# -- plans.json and schemas/v1/: the store-wide files (issue 8, items 2-3) ------------------


def catalogue_of_two_plans(world: World) -> None:
    """Plan B ("Algebra", with season, grade and stream) and plan A ("Zeta"), one lesson each."""
    b = world.build
    b.season("S24", title="2024/25")
    b.grade("G5", title="Grade 5")
    b.stream("SCI", title="Science")
    b.plan("A", title="Zeta", subjects=["S"])
    b.plan("B", title="Algebra", subjects=["S"], season="S24", grade="G5", stream="SCI")
    b.subject("S")
    b.track("T", "S")
    b.unit("U", "T")
    b.topic("TP", "U")
    b.lesson("L1", "TP")


@pytest.fixture
def any_world(engine: sa.Engine, tmp_path: Path) -> World:
    """A world on every database backend (the published index is queried for manifests)."""
    return World(engine, tmp_path / "cdn")


def test_plans_json_lists_the_published_plans_in_title_order_with_unversioned_manifest_links(
    any_world: World,
) -> None:
    world = any_world
    catalogue_of_two_plans(world)
    world.publish("A", "B")
    plans = world.doc(paths.PLANS_KEY)
    assert plans["schema_version"] == 1
    assert plans["plans"] == [
        {
            "id": "B",
            "title": "Algebra",
            "season": "2024/25",
            "grade": "Grade 5",
            "stream": "Science",
            "manifest_url": "plans/B/manifest.json",
        },
        {"id": "A", "title": "Zeta", "manifest_url": "plans/A/manifest.json"},
    ]
    assert validate_tree(world.store.root) == []


def test_plans_json_lists_only_the_plans_published_to_its_own_store(
    world: World, tmp_path: Path
) -> None:
    # The published index is keyed by store: plan B built on another store (same state
    # database) has no manifest in this one, so this store's plans.json must not link it.
    catalogue_of_two_plans(world)
    world.build.insert()
    elsewhere = FileStore(tmp_path / "elsewhere")
    Publisher(SqlSource(world.engine), world.state, elsewhere, default_publish_options()).publish(
        "B"
    )
    world.publish("A")
    assert [plan["id"] for plan in world.doc(paths.PLANS_KEY)["plans"]] == ["A"]
    other_plans = json.loads(elsewhere.get(paths.PLANS_KEY) or b"{}")["plans"]
    assert [plan["id"] for plan in other_plans] == ["B"]
    assert validate_tree(world.store.root) == []


def test_plans_json_is_uploaded_after_the_manifest_it_links_and_lists_no_unbuilt_plan(
    world: World,
) -> None:
    catalogue_of_two_plans(world)
    (result,) = world.publish("A")
    puts = world.store.puts()
    assert puts.index(paths.PLANS_KEY) > puts.index(paths.manifest_key("A"))
    assert result.store_keys[-1] == paths.PLANS_KEY
    # B is published in the source but not built yet: its manifest does not exist.
    assert [plan["id"] for plan in world.doc(paths.PLANS_KEY)["plans"]] == ["A"]


def test_plans_json_changes_when_a_plan_is_published(world: World) -> None:
    catalogue_of_two_plans(world)
    world.publish("A")
    world.store.reset()
    (result,) = world.publish("B")
    assert [plan["id"] for plan in world.doc(paths.PLANS_KEY)["plans"]] == ["B", "A"]
    assert world.store.puts()[-1] == paths.PLANS_KEY
    assert result.store_keys == (paths.PLANS_KEY,)


def test_plans_json_changes_when_a_plan_is_unpublished(world: World) -> None:
    catalogue_of_two_plans(world)
    world.publish("A", "B")
    world.update(Doctype.PLAN, "B", is_published=0)
    (result,) = world.publish("B")
    assert result.removed
    assert result.store_keys == (paths.PLANS_KEY,)
    assert [plan["id"] for plan in world.doc(paths.PLANS_KEY)["plans"]] == ["A"]
    assert validate_tree(world.store.root) == []


def test_plans_json_changes_when_a_plan_is_retitled(world: World) -> None:
    catalogue_of_two_plans(world)
    world.publish("A", "B")
    before = world.doc(paths.PLANS_KEY)
    world.update(Doctype.PLAN, "A", title="Arithmetic")
    (result,) = world.publish("A")
    after = world.doc(paths.PLANS_KEY)
    assert [(p["id"], p["title"]) for p in after["plans"]] == [
        ("B", "Algebra"),
        ("A", "Arithmetic"),
    ]
    assert after["version"] > before["version"]
    assert result.store_keys == (paths.PLANS_KEY,)


def test_plans_json_is_not_rewritten_on_a_lesson_edit(world: World) -> None:
    catalogue_of_two_plans(world)
    world.publish("A", "B")
    before = world.store.get(paths.PLANS_KEY)
    world.store.reset()
    world.update(Doctype.LESSON, "L1", title="Renamed lesson")
    results = world.publish("A", "B")
    assert paths.lesson_key("A", "L1") in world.store.puts()
    assert paths.PLANS_KEY not in world.store.puts()
    assert [result.store_keys for result in results] == [(), ()]
    assert world.store.get(paths.PLANS_KEY) == before


def test_plans_json_and_its_changes_are_purged_but_not_on_a_lesson_edit(
    world: World,
) -> None:
    purger = RecordingPurger()
    world.publisher.purger = purger
    catalogue_of_two_plans(world)
    world.publish("A")
    assert "plans.json" in purger.last()
    world.publish("B")
    assert "plans.json" in purger.last()
    world.update(Doctype.LESSON, "L1", title="Renamed lesson")
    world.publish("A")
    assert "plans.json" not in purger.last()
    assert paths.lesson_key("A", "L1") in purger.last()


def test_every_store_gets_the_json_schemas_under_schemas_v1_and_only_when_missing_or_changed(
    world: World,
) -> None:
    catalogue_of_two_plans(world)
    (first,) = world.publish("A")
    schema_keys = {paths.schema_key(kind) for kind in DocKind}
    assert schema_keys <= set(first.store_keys)
    for kind in DocKind:
        assert world.store.get(paths.schema_key(kind)) == schema_body(kind)
    world.store.reset()
    world.publish("B")  # the same publisher: it compared them already
    assert not schema_keys & set(world.store.puts())
    # The same publisher puts back a schema that went missing (an emptied store).
    (world.store.root / paths.schema_key(DocKind.PLANS)).unlink()
    (result,) = world.publish("B")
    assert result.store_keys == (paths.schema_key(DocKind.PLANS),)
    world.store.reset()

    # A new publisher (a new process) on the same store finds them in place...
    again = Publisher(SqlSource(world.engine), world.state, world.store, default_publish_options())
    again.publish("A")
    assert not schema_keys & set(world.store.puts())
    # ... and puts back only the one that is missing or differs.
    lesson_schema = world.store.root / paths.schema_key(DocKind.LESSON)
    lesson_schema.write_text("{}")
    (world.store.root / paths.schema_key(DocKind.UNIT)).unlink()
    again = Publisher(SqlSource(world.engine), world.state, world.store, default_publish_options())
    result = again.publish("A")
    assert sorted(result.store_keys) == sorted(
        [paths.schema_key(DocKind.LESSON), paths.schema_key(DocKind.UNIT)]
    )
    assert lesson_schema.read_bytes() == schema_body(DocKind.LESSON)
    assert validate_tree(world.store.root) == []


def test_a_changed_file_is_purged_at_its_plain_and_its_new_versioned_url(world: World) -> None:
    purger = RecordingPurger()
    world.publisher.purger = purger
    catalogue_of_two_plans(world)
    world.publish("A")
    world.update(Doctype.LESSON, "L1", title="Renamed lesson")
    (result,) = world.publish("A")
    lesson = paths.lesson_key("A", "L1")
    body = world.store.get(lesson)
    assert body is not None
    version = hashlib.sha256(body).hexdigest()[:12]
    assert lesson in purger.last()
    assert f"{lesson}?v={version}" in purger.last()
    # every changed file, and nothing else, twice: plain and versioned
    expected = set(result.uploaded_keys) | {
        f"{key}?v={hashlib.sha256(world.store.get(key) or b'').hexdigest()[:12]}"
        for key in result.uploaded_keys
    }
    assert set(purger.last()) == expected


def test_plans_json_still_lists_a_plan_whose_build_finished_while_it_was_being_written(
    world: World,
) -> None:
    """Another worker publishes plan B while this build (plan A) writes plans.json from an
    index that had no B yet: the list is read again after the write, and B is not left out."""
    catalogue_of_two_plans(world)
    # The other worker: its own publisher and store client on the same store.
    other = Publisher(
        SqlSource(world.engine), world.state, FileStore(world.store.root), default_publish_options()
    )
    put = world.store.put
    store = world.store.identity

    def put_while_b_lands(key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        put(key, body, content_type=content_type, cache_control=cache_control)
        if key == paths.PLANS_KEY and not world.state.published(store, "B"):
            other.publish("B")  # B's manifest is now in the store and the index

    world.store.put = put_while_b_lands  # type: ignore[method-assign]
    (result,) = world.publish("A")
    assert [plan["id"] for plan in world.doc(paths.PLANS_KEY)["plans"]] == ["B", "A"]
    assert world.store.puts().count(paths.PLANS_KEY) == 2
    assert result.store_keys[-1] == paths.PLANS_KEY
