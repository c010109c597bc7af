"""Incremental sync (SPEC §5, issue 3): each scenario ends with the store equal to a fresh
full export of the database."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from memora_cdn.core.events import Action
from memora_cdn.core.model import Doctype, SyncStatus, Trigger
from memora_cdn.source.schema import DELETED_DOCUMENT
from sitekit import Site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    yield site
    site.close()


def two_plans_sharing_a_subject(site: Site) -> None:
    """X and Y share subject A (units U1, U2 with 3 lessons each); Z has subject B."""
    b = site.build
    b.plan("X", subjects=["A"])
    b.plan("Y", subjects=["A"])
    b.plan("Z", subjects=["B"])
    for subject in ("A", "B"):
        b.subject(subject, is_public=True)
        b.track(f"{subject}-T", subject)
    for u in (1, 2):
        b.unit(f"U{u}", "A-T", sort_order=u)
        b.topic(f"TP{u}", f"U{u}")
        for n in (1, 2, 3):
            b.lesson(f"U{u}L{n}", f"TP{u}", title=f"Lesson {u}.{n}", sort_order=n)
            b.stage(f"U{u}L{n}", name=f"U{u}L{n}-S1", type="Text", config={"body": "hi"})
    b.unit("BU", "B-T")
    b.topic("BTP", "BU")
    b.lesson("BL", "BTP")
    site.queue_all()
    report = site.batch()
    assert sorted(o.plan for o in report.succeeded) == ["X", "Y", "Z"]


def test_twenty_edits_before_a_batch_build_the_plan_once(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    for n in range(20):
        site.update(Doctype.LESSON, f"U1L{n % 3 + 1}", title=f"Edit {n}")
        site.notify(Doctype.LESSON, f"U1L{n % 3 + 1}")
    report = site.batch()
    assert sorted(o.plan for o in report.outcomes) == ["X", "Y"]
    for plan in ("X", "Y"):
        rows = [r for r in site.app.state.sync_log(plan=plan) if r.status is SyncStatus.SUCCESS]
        assert len(rows) == 2  # the first publish and this batch
    site.assert_store_equals_fresh_export()


def test_a_stage_edit_rebuilds_exactly_five_files_in_each_plan_with_its_lesson(site: Site) -> None:
    # Five since search entries carry `?v=` (SPEC §3): the (unsharded) search index too.
    two_plans_sharing_a_subject(site)
    site.update(Doctype.LESSON_STAGE, "U2L2-S1", config='{"body": "changed"}')
    queued = site.notify(Doctype.LESSON_STAGE, "U2L2-S1")
    assert queued.plans == {"X", "Y"}
    report = site.batch()
    for outcome in report.outcomes:
        assert outcome.result is not None
        assert set(outcome.result.uploaded_keys) == {
            f"plans/{outcome.plan}/lessons/U2L2.json",
            f"plans/{outcome.plan}/units/U2.json",
            f"plans/{outcome.plan}/subjects/A.json",
            f"plans/{outcome.plan}/search_index.json",
            f"plans/{outcome.plan}/manifest.json",
        }
    assert sorted(o.plan for o in report.outcomes) == ["X", "Y"]
    site.assert_store_equals_fresh_export()


def test_an_override_added_to_x_rebuilds_only_x(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    override = site.build.override("X", "Memora Unit", "U2", "Hide")
    site.build.insert()
    site.update(Doctype.PLAN, "X")
    assert site.notify(Doctype.PLAN_OVERRIDE, override).plans == {"X"}
    report = site.batch()
    assert [o.plan for o in report.outcomes] == ["X"]
    assert "plans/X/units/U2.json" not in site.keys("X")
    assert "plans/Y/units/U2.json" in site.keys("Y")
    site.assert_store_equals_fresh_export()


def test_a_subject_removed_from_x_loses_its_files_under_x(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    site.delete(Doctype.PLAN_SUBJECT, "X-subjects-1")
    site.update(Doctype.PLAN, "X")
    site.notify(Doctype.PLAN, "X")
    site.batch()
    assert [s["id"] for s in site.doc("plans/X/manifest.json")["subjects"]] == []
    assert site.keys("X") == {"plans/X/manifest.json", "plans/X/search_index.json"}
    assert "plans/Y/subjects/A.json" in site.keys("Y")
    site.assert_store_equals_fresh_export()


@pytest.mark.parametrize(
    ("doctype", "name", "gone"),
    [
        (Doctype.LESSON, "U1L2", ["lessons/U1L2.json"]),
        (Doctype.TOPIC, "TP1", [f"lessons/U1L{n}.json" for n in (1, 2, 3)]),
        (Doctype.UNIT, "U2", ["units/U2.json"] + [f"lessons/U2L{n}.json" for n in (1, 2, 3)]),
        (Doctype.TRACK, "A-T", ["units/U1.json", "units/U2.json", "lessons/U2L3.json"]),
        (Doctype.SUBJECT, "A", ["subjects/A.json", "units/U1.json", "lessons/U1L1.json"]),
    ],
)
@pytest.mark.parametrize("action", [Action.TRASH, Action.DELETE])
def test_trashing_or_deleting_a_node_removes_it_from_every_plan_that_showed_it(
    site: Site, doctype: Doctype, name: str, gone: list[str], action: Action
) -> None:
    two_plans_sharing_a_subject(site)
    site.delete(doctype, name)
    assert site.notify(doctype, name, action).plans == {"X", "Y"}
    site.batch()
    for plan in ("X", "Y"):
        keys = site.keys(plan)
        for suffix in gone:
            assert f"plans/{plan}/{suffix}" not in keys
        assert f'"{name}"' not in site.text(plan)
    site.assert_store_equals_fresh_export()


def test_restore_is_an_insert(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    row = site.delete(Doctype.LESSON, "U1L3")
    site.notify(Doctype.LESSON, "U1L3", Action.DELETE)
    site.batch()
    assert "plans/X/lessons/U1L3.json" not in site.keys("X")
    site.build.row(Doctype.LESSON, "U1L3", **{k: v for k, v in row.items() if k != "name"})
    site.notify(Doctype.LESSON, "U1L3", Action.RESTORE)
    site.batch()
    assert "plans/X/lessons/U1L3.json" in site.keys("X")
    site.assert_store_equals_fresh_export()


@pytest.mark.parametrize("how", ["unpublished", "deleted"])
def test_a_plan_unpublished_or_deleted_loses_its_whole_folder(site: Site, how: str) -> None:
    two_plans_sharing_a_subject(site)
    if how == "unpublished":
        site.update(Doctype.PLAN, "X", is_published=0)
        site.notify(Doctype.PLAN, "X")
    else:
        site.delete(Doctype.PLAN, "X")
        site.notify(Doctype.PLAN, "X", Action.DELETE)
    site.batch()
    assert site.keys("X") == set()
    site.assert_store_equals_fresh_export()


def test_a_unit_moved_from_a_subject_in_x_to_one_in_z_rebuilds_both(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    site.update(Doctype.UNIT, "U2", parent_track="B-T")
    # As scan sees it: no "before", the plan members remember where it was.
    assert site.notify(Doctype.UNIT, "U2").plans == {"X", "Y", "Z"}
    site.batch()
    assert "plans/X/units/U2.json" not in site.keys("X")
    assert "plans/Z/units/U2.json" in site.keys("Z")
    assert {f"plans/Z/lessons/U2L{n}.json" for n in (1, 2, 3)} <= site.keys("Z")
    site.assert_store_equals_fresh_export()


def test_a_failing_build_retries_at_the_backoff_times_then_dead_letters_then_recovers(
    site: Site,
) -> None:
    two_plans_sharing_a_subject(site)
    cdn = site.store.root
    shutil.move(cdn, site.root / "cdn-away")
    cdn.write_text("not a folder")  # the store is unwritable now
    site.update(Doctype.LESSON, "BL", title="New title")
    site.notify(Doctype.LESSON, "BL")
    report = site.batch()
    assert [(o.plan, o.status) for o in report.outcomes] == [("Z", SyncStatus.FAILED)]
    for delay, status in (
        (30, SyncStatus.FAILED),
        (60, SyncStatus.FAILED),
        (120, SyncStatus.DEAD_LETTER),
    ):
        site.clock.advance(delay - 1)
        assert site.batch(include_pending=False).outcomes == []  # not due yet
        site.clock.advance(1)
        report = site.batch(include_pending=False)
        assert [(o.plan, o.status) for o in report.outcomes] == [("Z", status)]
    log = site.app.state.sync_log(plan="Z", limit=4)
    assert [(r.status, r.retry_count) for r in log] == [
        (SyncStatus.DEAD_LETTER, 3),
        (SyncStatus.FAILED, 2),
        (SyncStatus.FAILED, 1),
        (SyncStatus.FAILED, 0),
    ]
    assert log[0].error_message is not None
    # The store's marker is read before anything is uploaded: that read fails first.
    assert log[0].error_message.startswith("store error on '.memora-cdn-store.json'")
    assert [d.plan for d in site.app.queue.dead_letters()] == ["Z"]
    site.clock.advance(3600)
    assert site.batch().outcomes == []  # dead letters wait for an operator

    cdn.unlink()
    shutil.move(site.root / "cdn-away", cdn)
    assert site.app.queue.retry_dead("Z", site.clock.datetime())
    report = site.batch(Trigger.MANUAL)
    assert [(o.plan, o.status) for o in report.outcomes] == [("Z", SyncStatus.SUCCESS)]
    assert site.doc("plans/Z/lessons/BL.json")["title"] == "New title"
    site.assert_store_equals_fresh_export()


def test_notify_of_an_unknown_doctype_or_missing_document_queues_nothing(site: Site) -> None:
    from memora_cdn.errors import DocumentNotFoundError, UnknownDoctypeError

    two_plans_sharing_a_subject(site)
    with pytest.raises(UnknownDoctypeError, match="unknown doctype 'Memora Lessons'"):
        site.app.intake.notify("Memora Lessons", "U1L1")
    with pytest.raises(DocumentNotFoundError) as caught:
        site.app.intake.notify("Memora Lesson", "NOPE")
    assert str(caught.value) == (
        "no Memora Lesson named 'NOPE' in the source database; nothing queued"
    )
    assert site.app.queue.pending_count() == 0


def test_a_lesson_deleted_directly_in_the_database_disappears_after_a_scan(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    site.scan()  # the first scan sees everything; build it so the queue is empty again
    site.batch()
    site.delete(Doctype.LESSON, "U1L2")
    assert site.scan().plans == {"X", "Y"}
    site.batch()
    for plan in ("X", "Y"):
        assert f"plans/{plan}/lessons/U1L2.json" not in site.keys(plan)
        assert '"U1L2"' not in site.text(plan)
    site.assert_store_equals_fresh_export()


def test_a_deleted_document_row_removes_the_lesson_after_a_scan(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    site.scan()
    site.batch()
    row = site.delete(Doctype.LESSON, "U2L1")
    site.clock.advance(60)
    deleted = sa.Table(DELETED_DOCUMENT, sa.MetaData(), autoload_with=site.engine)
    with site.engine.begin() as conn:
        conn.execute(
            sa.insert(deleted).values(
                name="DEL-1",
                creation=site.clock.datetime(),
                modified=site.clock.datetime(),
                deleted_doctype="Memora Lesson",
                deleted_name="U2L1",
                data=json.dumps(
                    {
                        "doctype": "Memora Lesson",
                        "name": "U2L1",
                        "parent_topic": row["parent_topic"],
                    }
                ),
                restored=0,
            )
        )
    assert site.scan().plans == {"X", "Y"}
    site.batch()
    assert "plans/X/lessons/U2L1.json" not in site.keys("X")
    site.assert_store_equals_fresh_export()


def test_an_edit_found_by_scan_is_rebuilt_once(site: Site) -> None:
    two_plans_sharing_a_subject(site)
    site.scan()
    site.batch()
    assert site.scan().plans == set()
    site.clock.advance(60)
    site.update(Doctype.LESSON, "BL", title="Scanned title")
    assert site.scan().plans == {"Z"}
    assert [o.plan for o in site.batch().outcomes] == ["Z"]
    assert site.doc("plans/Z/lessons/BL.json")["title"] == "Scanned title"
    site.assert_store_equals_fresh_export()
