"""The command line (SPEC §8), as a user runs it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memora_cdn.cli import app

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None) -> Path:
    """An empty working folder with the embedded defaults (./memora.db, ./cdn-out)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_demo_publishes_a_valid_store_and_the_second_run_uploads_nothing(workdir: Path) -> None:
    code, out, _ = invoke("demo")
    assert code == 0
    for plan in ("PLAN-G10-SCI", "PLAN-G10-LIT", "PLAN-G12-SCI"):
        assert plan in out
    assert "Uploaded " in out
    code, out, _ = invoke("validate", "cdn-out")
    assert code == 0, out
    assert out.startswith("All ")
    assert out.rstrip().endswith("files under cdn-out are valid.")
    assert json.loads((workdir / "cdn-out/plans/PLAN-G12-SCI/search_index.json").read_bytes())[
        "is_sharded"
    ]
    before = {p: p.stat().st_mtime_ns for p in (workdir / "cdn-out").rglob("*.json")}
    code, out, _ = invoke("demo")
    assert code == 0
    assert "Demo catalogue already seeded: no rows added." in out
    assert "Nothing to upload: all 4 plans are up to date." in out
    after = {p: p.stat().st_mtime_ns for p in (workdir / "cdn-out").rglob("*.json")}
    assert after == before


def test_a_document_broken_on_purpose_fails_validation_naming_file_and_field(
    workdir: Path,
) -> None:
    assert invoke("demo")[0] == 0
    lesson = next((workdir / "cdn-out/plans/PLAN-G10-SCI/lessons").glob("*.json"))
    document = json.loads(lesson.read_bytes())
    document["stages"][0]["weight"] = "heavy"
    lesson.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code, out, err = invoke("validate", "cdn-out")
    assert code == 1
    key = lesson.relative_to(workdir / "cdn-out").as_posix()
    assert f"{key}: $.stages[0].weight: must be a number, not a string" in out
    assert "problems found under cdn-out" in err


def test_a_bad_setting_is_one_line_naming_the_setting_and_value(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORA_CDN_SIGNED_URL_EXPIRY_HOURS", "30")
    code, _, err = invoke("status")
    assert code == 2
    assert err == (
        "error: invalid setting signed_url_expiry_hours=30: "
        "Input should be less than or equal to 24\n"
    )


def test_rebuild_of_a_plan_that_is_gone_removes_its_folder(workdir: Path) -> None:
    assert invoke("demo")[0] == 0
    assert (workdir / "cdn-out/plans/PLAN-G10-LIT").is_dir()
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM `tabMemora Academic Plan` WHERE name = 'PLAN-G10-LIT'"))
    engine.dispose()
    code, out, _ = invoke("rebuild", "PLAN-G10-LIT")
    assert code == 0
    assert "removed" in out
    assert not (workdir / "cdn-out/plans/PLAN-G10-LIT").exists()


def test_status_json_lists_publications_and_syncs(workdir: Path) -> None:
    assert invoke("demo")[0] == 0
    code, out, _ = invoke("status", "--json")
    assert code == 0
    status = json.loads(out)
    plans = {p["plan_id"]: p for p in status["plans"]}
    assert set(plans) == {"PLAN-G10-SCI", "PLAN-G10-LIT", "PLAN-G12-SCI"}
    assert plans["PLAN-G12-SCI"]["files"] > 600
    assert {s["status"] for s in status["recent_syncs"]} == {"Success"}


def test_init_creates_state_and_content_tables(workdir: Path) -> None:
    code, out, _ = invoke("init", "--content-schema")
    assert code == 0
    assert "state and content tables" in out
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite:///memora.db")
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "cdn_sync_log",
        "cdn_published_object",
        "cdn_plan_member",
        "cdn_export_queue",
        "cdn_scan_state",
        "tabMemora Lesson Stage",
        "tabDeleted Document",
    } <= tables


def test_a_site_missing_a_required_column_gets_one_line_without_traceback(workdir: Path) -> None:
    import sqlalchemy as sa

    assert invoke("init", "--content-schema")[0] == 0
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_lesson_parent_topic"))
        conn.execute(sa.text("ALTER TABLE `tabMemora Lesson` DROP COLUMN parent_topic"))
    engine.dispose()
    result = subprocess.run(
        [sys.executable, "-m", "memora_cdn", "sync", "--all"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr == (
        "error: source table `tabMemora Lesson` has no column `parent_topic`, "
        "which memora-cdn needs\n"
    )
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["init", "demo", "sync", "rebuild", "validate", "status"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0
    assert "Example: memora-cdn " in out


def test_commands_on_a_fresh_folder_explain_what_is_missing(workdir: Path) -> None:
    code, _, err = invoke("sync", "--all")
    assert code == 3
    assert err == (
        "error: source table `tabMemora Academic Plan` is missing; "
        "run `memora-cdn init --content-schema`\n"
    )
    code, out, _ = invoke("status")
    assert code == 0
    assert "Nothing published yet." in out
