"""The state tables' reads and writes (state/repo.py and its parts), on SQLite, MariaDB and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from memora_cdn.core.documents import Published
from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.errors import SettingError
from memora_cdn.state.members import PlanMembers
from memora_cdn.state.published_index import PlanPublication, PublishedIndex
from memora_cdn.state.purges import PendingPurges
from memora_cdn.state.repo import StateRepository
from memora_cdn.state.sync_log import SyncCounts, SyncLog
from memora_cdn.state.webhooks import WebhookCounts

NOW = datetime(2026, 11, 1, 12, 0, 0)
A = "file:///srv/cdn-a"
B = "s3://bucket/cdn-b"
LESSON = "Memora Lesson"


@pytest.fixture
def state(engine: sa.Engine) -> StateRepository:
    store = StateRepository(engine)
    store.create_schema()
    return store


def at(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)


# -- the published index ------------------------------------------------------------------


def test_an_upload_recorded_twice_keeps_the_latest_entry_on_that_store_only(
    state: StateRepository,
) -> None:
    state.record_uploads(A, "P", [("plans/P/manifest.json", Published("a" * 64, 1, 10))], NOW)
    state.record_uploads(
        A, "P", [("plans/P/manifest.json", Published("b" * 64, 2, 20, expires_at=99))], at(5)
    )
    state.record_uploads(B, "P", [("plans/P/manifest.json", Published("c" * 64, 3, 30))], NOW)
    assert state.published(A, "P") == {"plans/P/manifest.json": Published("b" * 64, 2, 20, 99)}
    assert state.published(B, "P") == {"plans/P/manifest.json": Published("c" * 64, 3, 30)}
    assert state.published(A, "Q") == {}
    assert (state.indexed_files(A), state.indexed_files(B), state.indexed_files("x")) == (1, 1, 0)


def test_holders_finds_keys_past_the_first_chunk_of_500(state: StateRepository) -> None:
    wanted = [f"plans/P/lessons/L{n:04}.json" for n in range(600)]
    state.record_uploads(A, "P", [(wanted[0], Published("a" * 64, 1))], NOW)
    state.record_uploads(A, "Q", [(wanted[599], Published("a" * 64, 1))], NOW)
    state.record_uploads(B, "P", [(wanted[300], Published("a" * 64, 1))], NOW)
    assert state.holders(A, [*wanted, wanted[0]]) == {("P", wanted[0]), ("Q", wanted[599])}
    assert state.holders(A, []) == set()


def test_deletes_and_forgetting_a_plan_touch_only_that_plan_on_that_store(
    state: StateRepository,
) -> None:
    for store in (A, B):
        for plan in ("P", "Q"):
            for name in ("manifest", "search_index"):
                key = f"plans/{plan}/{name}.json"
                state.record_uploads(store, plan, [(key, Published("a" * 64, 1))], NOW)
    state.replace_members("P", [(LESSON, "L1")])
    state.replace_members("Q", [(LESSON, "L1")])

    state.record_deletes(A, "P", ["plans/P/search_index.json", "plans/Q/manifest.json"])
    state.record_deletes(A, "P", [])
    assert set(state.published(A, "P")) == {"plans/P/manifest.json"}
    assert len(state.published(A, "Q")) == 2  # a key of another plan is not deleted

    state.forget_plan(A, "P")
    assert state.published(A, "P") == {}
    assert state.members("P") == frozenset()
    assert len(state.published(B, "P")) == 2
    assert state.members("Q") == {(LESSON, "L1")}


def test_publications_sum_files_and_bytes_per_plan_of_one_store(state: StateRepository) -> None:
    state.record_uploads(A, "Q", [("plans/Q/manifest.json", Published("a" * 64, 1, 100))], at(1))
    state.record_uploads(A, "P", [("plans/P/manifest.json", Published("a" * 64, 1, 10))], at(2))
    state.record_uploads(A, "P", [("plans/P/search_index.json", Published("a" * 64, 1, 5))], at(9))
    state.record_uploads(B, "P", [("plans/P/manifest.json", Published("a" * 64, 1, 7))], at(30))
    assert state.publications(A) == [
        PlanPublication("P", files=2, bytes=15, last_published_at=at(9)),
        PlanPublication("Q", files=1, bytes=100, last_published_at=at(1)),
    ]
    assert state.publications("nowhere") == []


def test_expiring_plans_are_those_with_a_signed_url_ending_before_the_horizon(
    state: StateRepository,
) -> None:
    def upload(plan: str, key: str, expires_at: int | None) -> None:
        state.record_uploads(A, plan, [(key, Published("a" * 64, 1, 1, expires_at))], NOW)

    upload("P", "plans/P/lessons/L1.json", 1_000)
    upload("P", "plans/P/lessons/L2.json", 5_000)
    upload("Q", "plans/Q/lessons/L1.json", 4_000)
    upload("R", "plans/R/lessons/L1.json", None)
    state.record_uploads(B, "S", [("plans/S/lessons/L1.json", Published("a" * 64, 1, 1, 10))], NOW)
    assert state.expiring_plans(A, before=4_000) == {"P": 1_000}
    assert state.expiring_plans(A, before=4_001) == {"P": 1_000, "Q": 4_000}


def test_a_store_identity_longer_than_the_index_holds_is_a_setting_error(
    engine: sa.Engine,
) -> None:
    identity = "s3://bucket/" + "p" * 250
    with pytest.raises(SettingError) as caught:
        StateRepository(engine).create_schema(store=identity)
    assert str(caught.value) == (
        f"invalid setting store={identity}: its identity is longer than 255 characters: "
        "use a shorter path or prefix"
    )
    assert sa.inspect(engine).get_table_names() == []  # nothing was created


# -- purges that failed -------------------------------------------------------------------


def test_pending_purges_are_kept_once_per_key_until_cleared(state: StateRepository) -> None:
    state.add_pending_purges("P", ["b.json", "a.json", "b.json"], NOW)
    state.add_pending_purges("P", ["a.json", "c.json"], at(60))  # a.json again: no duplicate
    state.add_pending_purges("Q", ["a.json"], NOW)
    state.add_pending_purges("P", [], NOW)
    assert state.pending_purges("P") == ["a.json", "b.json", "c.json"]
    state.clear_pending_purges("P", ["a.json", "c.json", "never.json"])
    assert state.pending_purges("P") == ["b.json"]
    assert state.pending_purges("Q") == ["a.json"]


# -- plan members -------------------------------------------------------------------------


def test_replacing_members_adds_the_new_and_drops_the_gone(state: StateRepository) -> None:
    state.replace_members("P", [(LESSON, "L1"), (LESSON, "L2"), ("Memora Unit", "U1")])
    state.replace_members("Q", [(LESSON, "L2")])
    state.replace_members("P", [(LESSON, "L2"), (LESSON, "L3"), ("Memora Unit", "U1")])
    assert state.members("P") == {(LESSON, "L2"), (LESSON, "L3"), ("Memora Unit", "U1")}
    assert state.plans_with_member(LESSON, "L2") == {"P", "Q"}
    assert state.plans_with_member(LESSON, "L1") == set()
    state.replace_members("P", [])
    assert state.members("P") == frozenset()
    assert state.members("Q") == {(LESSON, "L2")}


# -- the sync log -------------------------------------------------------------------------


def test_an_attempt_takes_over_the_plans_waiting_row_and_folds_older_ones_into_it(
    state: StateRepository,
) -> None:
    older = state.log_queued("P", Trigger.MANUAL, NOW)
    newer = state.log_queued("P", Trigger.MANUAL, at(1))
    other = state.log_queued("Q", Trigger.MANUAL, NOW)
    log_id = state.begin_attempt_failing_lost(
        "P", Trigger.SCHEDULER, at(5), retry_count=2, is_fallback=True
    )
    assert log_id == newer != older
    (row,) = state.sync_log(plan="P")
    assert (row.id, row.status, row.triggered_by, row.started_at) == (
        newer,
        SyncStatus.PROCESSING,
        Trigger.SCHEDULER,
        at(5),
    )
    assert (row.retry_count, row.is_fallback, row.completed_at) == (2, True, None)
    assert [r.id for r in state.sync_log(plan="Q")] == [other]


def test_an_attempt_marks_a_build_left_processing_as_a_lost_worker(state: StateRepository) -> None:
    # no waiting row: a new one
    lost = state.begin_attempt_failing_lost("P", Trigger.SCHEDULER, NOW)
    again = state.begin_attempt_failing_lost("P", Trigger.SCHEDULER, at(400))
    assert again != lost
    previous = state.sync_log(plan="P", status=SyncStatus.FAILED)[0]
    assert (previous.id, previous.completed_at, previous.error_message) == (
        lost,
        at(400),
        "worker lost: its lease ran out before the build finished",
    )
    assert state.sync_log(plan="P", limit=1)[0].status is SyncStatus.PROCESSING


def test_a_finished_build_keeps_its_counts_warnings_and_error(state: StateRepository) -> None:
    log_id = state.log_processing("P", Trigger.MANUAL, NOW)
    counts = SyncCounts(
        files_uploaded=3, files_deleted=1, files_unchanged=7, bytes_uploaded=900, purge_requests=2
    )
    state.log_finish(log_id, SyncStatus.FAILED, at(3), counts, ["orphan: L9 ⚠"], "store down")
    (row,) = state.sync_log()
    assert (row.status, row.completed_at, row.counts) == (SyncStatus.FAILED, at(3), counts)
    assert (row.warnings, row.error_message) == (("orphan: L9 ⚠",), "store down")
    state.set_status(log_id, SyncStatus.DEAD_LETTER)
    assert state.sync_log()[0].status is SyncStatus.DEAD_LETTER


def test_the_sync_log_lists_newest_first_filtered_by_plan_status_and_start(
    state: StateRepository,
) -> None:
    ids = {}
    for n, (plan, status) in enumerate(
        [("P", SyncStatus.SUCCESS), ("Q", SyncStatus.FAILED), ("P", SyncStatus.FAILED)]
    ):
        ids[n] = state.log_processing(plan, Trigger.SCHEDULER, at(n * 60))
        state.set_status(ids[n], status)
    assert [r.id for r in state.sync_log()] == [ids[2], ids[1], ids[0]]
    assert [r.id for r in state.sync_log(limit=2)] == [ids[2], ids[1]]
    assert [r.id for r in state.sync_log(plan="P")] == [ids[2], ids[0]]
    assert [r.id for r in state.sync_log(status=SyncStatus.FAILED)] == [ids[2], ids[1]]
    assert [r.id for r in state.sync_log(since=at(60))] == [ids[2], ids[1]]
    assert state.sync_log(plan="P", status=SyncStatus.FAILED, since=at(121)) == []


def test_a_skipped_plan_is_one_finished_success_row_with_its_warnings(
    state: StateRepository,
) -> None:
    log_id = state.log_skipped("", Trigger.SCHEDULER, NOW, ["plan '' cannot be published"])
    (row,) = state.sync_log(finished=True)
    assert (row.id, row.plan_id, row.status, row.triggered_by) == (
        log_id,
        "",
        SyncStatus.SUCCESS,
        Trigger.SCHEDULER,
    )
    assert (row.started_at, row.completed_at, row.counts) == (NOW, NOW, SyncCounts())
    assert (row.warnings, row.error_message, row.retry_count) == (
        ("plan '' cannot be published",),
        None,
        0,
    )


def test_a_queued_retry_keeps_its_count_and_fallback_flag(state: StateRepository) -> None:
    log_id = state.log_queued("P", Trigger.SCHEDULER, at(30), retry_count=3, is_fallback=True)
    (row,) = state.sync_log(status=SyncStatus.QUEUED)
    assert (row.id, row.started_at, row.retry_count, row.is_fallback) == (log_id, at(30), 3, True)
    assert row.completed_at is None


def test_each_part_of_the_state_store_works_on_the_engine_alone(
    state: StateRepository, engine: sa.Engine
) -> None:
    PlanMembers(engine).replace_members("P", [(LESSON, "L1")])
    PendingPurges(engine).add_pending_purges("P", ["plans/P/manifest.json"], NOW)
    log_id = SyncLog(engine).log_processing("P", Trigger.MANUAL, NOW)
    WebhookCounts(engine).count_webhooks({"accepted": 1})
    PublishedIndex(engine).record_validated(A, "P", "d" * 64, NOW)
    assert state.members("P") == {(LESSON, "L1")}
    assert state.pending_purges("P") == ["plans/P/manifest.json"]
    assert [r.id for r in state.sync_log()] == [log_id]
    assert state.webhook_counts() == {"accepted": 1}
    assert state.validated_digest(A, "P") == "d" * 64
