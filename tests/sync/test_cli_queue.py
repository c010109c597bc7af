"""The queue from the command line: notify, sync, dead-letter, status."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from clirun import invoke
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.state.schema import export_queue


@pytest.fixture
def demo_dir(demo: Path) -> Path:
    """A folder with the demo catalogue seeded and published (embedded defaults)."""
    return demo


def queue_status() -> dict[str, int]:
    code, out, _ = invoke("status", "--json")
    assert code == 0
    status: dict[str, int] = json.loads(out)["queue"]
    return status


def test_notify_queues_the_plans_of_a_lesson_and_sync_builds_them(demo_dir: Path) -> None:
    code, out, _ = invoke("notify", "Memora Lesson", "LES-00001")
    assert code == 0
    # The unpublished plan lists the subject too: its build only confirms it has no folder.
    assert out == "Queued: PLAN-G10-LIT, PLAN-G10-SCI, PLAN-G11-GEN\n"
    assert queue_status()["pending"] == 3
    code, out, _ = invoke("sync")
    assert code == 0
    assert "PLAN-G10-SCI" in out
    assert queue_status()["pending"] == 0
    assert invoke("sync")[1] == "Nothing pending.\n"


def test_notify_of_an_unknown_doctype_fails_and_queues_nothing(demo_dir: Path) -> None:
    code, _, err = invoke("notify", "Memora Lessons", "LES-00001")
    assert code == 2
    assert err.startswith("error: unknown doctype 'Memora Lessons'; memora-cdn follows: ")
    assert queue_status()["pending"] == 0


def test_notify_of_a_missing_document_fails_and_queues_nothing(demo_dir: Path) -> None:
    code, _, err = invoke("notify", "Lesson", "NO-SUCH-LESSON")
    assert code == 8
    assert err == (
        "error: no Memora Lesson named 'NO-SUCH-LESSON' in the source database; nothing queued\n"
    )
    assert queue_status()["pending"] == 0


def test_a_deleted_document_may_be_notified(demo_dir: Path) -> None:
    code, out, _ = invoke("notify", "Memora Lesson", "LES-GONE", "--action", "delete")
    assert code == 0
    assert out == "No published plan shows that document: nothing queued.\n"


def test_dead_letters_are_listed_retried_and_cleared(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE `tabMemora Lesson` SET title = 'New' WHERE name = 'LES-00001'")
        )
    engine.dispose()
    (demo_dir / "not-a-folder").write_text("x")
    monkeypatch.setenv("MEMORA_CDN_STORE", "file://./not-a-folder")
    monkeypatch.setenv("MEMORA_CDN_MAX_RETRIES", "0")
    assert invoke("notify", "Memora Lesson", "LES-00001")[0] == 0
    code, _, err = invoke("sync")
    assert code == 6  # a store error
    # A new store: its marker is the first thing read and written, and that fails.
    assert "dead-lettered PLAN-G10-LIT: store error on '.memora-cdn-store.json'" in err
    code, out, _ = invoke("dead-letter", "list")
    assert code == 0
    assert "PLAN-G10-LIT" in out
    assert "PLAN-G10-SCI" in out
    monkeypatch.delenv("MEMORA_CDN_STORE")
    code, out, _ = invoke("dead-letter", "retry", "PLAN-G10-SCI")
    assert (code, out) == (
        0,
        "PLAN-G10-SCI queued again; `memora-cdn sync` or the worker will build it.\n",
    )
    assert invoke("sync")[0] == 0
    code, _, err = invoke("dead-letter", "retry", "PLAN-G10-SCI")
    assert code == 2
    assert "'PLAN-G10-SCI' is not in the dead letter" in err
    # PLAN-G11-GEN (shows LES-00001 but has nothing to upload) fails too: the store-wide files
    # (schemas/v1/, plans.json) cannot be checked or written in a store that is not a folder.
    assert invoke("dead-letter", "clear", "--all")[1] == "Cleared 2 dead letters.\n"
    assert queue_status()["dead_letter"] == 0


def test_a_corrupt_queue_row_and_a_vanished_plan_do_not_stop_the_batch(demo_dir: Path) -> None:
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(export_queue).values(
                plan_id="BROKEN",
                state="???",
                enqueued_at=sa.func.current_timestamp(),
                due_at=sa.func.current_timestamp(),
            )
        )
        # A plan deleted after it was queued (`rebuild` refuses a name that does not exist).
        for plan in ("NO-SUCH-PLAN", "PLAN-G10-SCI"):
            conn.execute(
                sa.insert(export_queue).values(
                    plan_id=plan,
                    state="pending",
                    enqueued_at=sa.func.current_timestamp(),
                    due_at=sa.func.current_timestamp(),
                )
            )
    engine.dispose()
    assert invoke("sync")[0] == 0
    _, out, _ = invoke("dead-letter", "list")
    assert "BROKEN" in out
    assert "corrupt queue row" in out
    _code, out, _ = invoke("status", "--json")
    syncs = json.loads(out)["recent_syncs"]
    assert {(s["plan_id"], s["status"]) for s in syncs[:2]} == {
        ("NO-SUCH-PLAN", "Success"),
        ("PLAN-G10-SCI", "Success"),
    }


def test_dead_letter_clear_without_a_plan_or_all_is_an_error_and_clears_nothing(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dead_letter("PLAN-G10-SCI")
    for args in ([], ["PLAN-G10-SCI", "--all"]):
        code, out, err = invoke("dead-letter", "clear", *args)
        assert (code, out) == (2, "")
        assert err == (
            "error: name one plan to clear, or --all to clear every dead letter (not both)\n"
        )
    assert queue_status()["dead_letter"] == 1
    assert invoke("dead-letter", "clear", "PLAN-G10-SCI")[1] == "Cleared 1 dead letter.\n"
    assert queue_status()["dead_letter"] == 0


def _dead_letter(plan: str) -> None:
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(export_queue).values(
                plan_id=plan,
                state="dead",
                attempts=4,
                enqueued_at=sa.func.current_timestamp(),
                due_at=sa.func.current_timestamp(),
                last_error="boom",
                failed_at=sa.func.current_timestamp(),
            )
        )
    engine.dispose()


def _claim_elsewhere(plan: str) -> None:
    """Another worker (another process, or one that crashed) holds `plan`'s lease."""
    engine = sa.create_engine("sqlite:///memora.db")
    queue = SqlQueue(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    queue.enqueue([plan], now)
    claims = queue.claim("elsewhere:1", now, lease_seconds=600, plans=[plan])
    assert [c.plan for c in claims] == [plan]
    engine.dispose()


def test_a_plan_held_by_another_worker_is_reported_skipped_never_up_to_date(
    demo_dir: Path,
) -> None:
    _claim_elsewhere("PLAN-G10-SCI")
    code, out, _ = invoke("rebuild", "PLAN-G10-SCI")
    assert code == 0
    assert out == (
        "skipped: PLAN-G10-SCI is being built by another worker; "
        "queued to be built again after it.\n"
    )
    code, out, _ = invoke("sync")
    assert code == 0
    assert out == "Nothing pending.\nskipped: 1 plan is being built by another worker.\n"
