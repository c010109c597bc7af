"""The queue from the command line: notify, sync, dead-letter, status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from memora_cdn.cli import app
from memora_cdn.state.schema import export_queue

runner = CliRunner()


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None) -> Path:
    """A folder with the demo catalogue seeded and published (embedded defaults)."""
    monkeypatch.chdir(tmp_path)
    assert invoke("demo")[0] == 0
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


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
    assert code == 1
    assert "dead-lettered PLAN-G10-LIT: store error on 'plans/PLAN-G10-LIT/" in err
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
    assert invoke("dead-letter", "clear")[1] == "Cleared 2 dead letters.\n"
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
    engine.dispose()
    assert invoke("rebuild", "NO-SUCH-PLAN", "PLAN-G10-SCI")[0] == 0
    _, out, _ = invoke("dead-letter", "list")
    assert "BROKEN" in out
    assert "corrupt queue row" in out
    _code, out, _ = invoke("status", "--json")
    syncs = json.loads(out)["recent_syncs"]
    assert {(s["plan_id"], s["status"]) for s in syncs[:2]} == {
        ("NO-SUCH-PLAN", "Success"),
        ("PLAN-G10-SCI", "Success"),
    }
