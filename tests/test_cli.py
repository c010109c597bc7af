"""The command line (SPEC §8), as a user runs it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup

from clirun import invoke
from memora_cdn.cli import app


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None) -> Path:
    """An empty working folder with the embedded defaults (./memora.db, ./cdn-out)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


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
    demo: Path,
) -> None:
    lesson = next((demo / "cdn-out/plans/PLAN-G10-SCI/lessons").glob("*.json"))
    document = json.loads(lesson.read_bytes())
    document["stages"][0]["weight"] = "heavy"
    lesson.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code, out, err = invoke("validate", "cdn-out")
    assert code == 1
    key = lesson.relative_to(demo / "cdn-out").as_posix()
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


def test_rebuild_of_a_plan_that_is_gone_removes_its_folder(demo: Path) -> None:
    assert (demo / "cdn-out/plans/PLAN-G10-LIT").is_dir()
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM `tabMemora Academic Plan` WHERE name = 'PLAN-G10-LIT'"))
    engine.dispose()
    code, out, _ = invoke("rebuild", "PLAN-G10-LIT")
    assert code == 0
    assert "removed" in out
    assert not (demo / "cdn-out/plans/PLAN-G10-LIT").exists()


def test_status_json_lists_publications_and_syncs(demo: Path) -> None:
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


def _command_paths(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command under `group`, sub-groups' commands included, as the words typed."""
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found.extend(_command_paths(command, (*path, name)))
        else:
            found.append((*path, name))
    return found


_ROOT = typer.main.get_command(app)
COMMANDS = _command_paths(_ROOT) if isinstance(_ROOT, TyperGroup) else []
README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_enumeration_finds_top_level_and_sub_group_commands() -> None:
    assert {("sync",), ("serve",), ("dead-letter", "list"), ("dead-letter", "clear")} <= set(
        COMMANDS
    )
    assert ("dead-letter",) not in COMMANDS  # a group is not a command of its own


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    code, out, _ = invoke(*command, "--help")
    assert code == 0
    examples = [line.strip() for line in out.splitlines() if line.strip().startswith("Example:")]
    assert examples, f"`memora-cdn {' '.join(command)} --help` shows no example"
    assert any(f"memora-cdn {' '.join(command)}" in line for line in examples), examples


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_is_in_the_readme_commands_table(command: tuple[str, ...]) -> None:
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1].split("\n## ")[0]
    first_cells = [
        re.split(r"(?<!\\)\|", line)[1].strip().strip("`")  # `\|` is a pipe inside a cell
        for line in section.splitlines()
        if line.startswith("| `")
    ]
    group, *sub = command
    rows = [cell for cell in first_cells if cell.split()[0] == group]
    assert rows, f"the README's Commands table has no row for `{group}`"
    assert all(any(word in row.split() for row in rows) for word in sub), rows


def test_commands_on_a_fresh_folder_explain_what_is_missing_and_create_nothing(
    workdir: Path,
) -> None:
    for command in (["sync", "--all"], ["status"]):
        code, out, err = invoke(*command)
        assert (code, out) == (8, "")
        assert err == (
            "error: no database at memora.db (database_url); check the path, or create it "
            "with `memora-cdn init --content-schema` (or `memora-cdn demo`)\n"
        )
    assert not (workdir / "memora.db").exists()
    assert invoke("init")[0] == 0
    code, _, err = invoke("sync", "--all")
    assert code == 3
    assert err == (
        "error: source table `tabMemora Academic Plan` is missing; "
        "run `memora-cdn init --content-schema`\n"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["sync"],
        ["sync", "--all"],
        ["rebuild", "PLAN-G10-SCI"],
        ["notify", "Memora Lesson", "LES-00001"],
        ["scan"],
        ["dead-letter", "list"],
        ["dead-letter", "clear", "--all"],
        ["verify"],
    ],
    ids=lambda command: " ".join(command),
)
@pytest.mark.parametrize("setting", ["database_url", "state_database_url"])
def test_a_mistyped_sqlite_path_is_an_error_and_creates_no_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], setting: str
) -> None:
    assert invoke("init", "--content-schema")[0] == 0
    monkeypatch.setenv(f"MEMORA_CDN_{setting.upper()}", "sqlite:///memroa.db")
    code, out, err = invoke(*command)
    assert (code, out) == (8, "")
    assert err == (
        f"error: no database at memroa.db ({setting}); check the path, or create it with "
        "`memora-cdn init --content-schema` (or `memora-cdn demo`)\n"
    )
    assert not (workdir / "memroa.db").exists()


def test_rebuild_of_a_plan_that_does_not_exist_is_an_error_and_builds_nothing(
    demo: Path,
) -> None:
    code, out, err = invoke("rebuild", "PLAN-G10-SCI", "PLAN-NOPE")
    assert (code, out) == (8, "")
    assert err == (
        "error: no plan named 'PLAN-NOPE' in the source database or the published index; "
        "nothing rebuilt\n"
    )
    status = json.loads(invoke("status", "--json")[1])
    assert status["queue"]["pending"] == 0
    assert {s["plan_id"] for s in status["recent_syncs"]} == {
        "PLAN-G10-SCI",
        "PLAN-G10-LIT",
        "PLAN-G12-SCI",
        "PLAN-G11-GEN",
    }
    assert len(status["recent_syncs"]) == 4  # the demo's builds only


def test_a_misspelt_variable_warns_on_stderr_naming_the_closest_setting(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("init")[0] == 0
    monkeypatch.setenv("MEMORA_CDN_STROE", "file://./elsewhere")
    code, _, err = invoke("status")
    assert code == 0
    assert err == (
        "warning: MEMORA_CDN_STROE is not a setting and is ignored; "
        "did you mean MEMORA_CDN_STORE (store)?\n"
    )


def test_demo_refuses_a_database_holding_content_it_did_not_seed(workdir: Path) -> None:
    import sqlalchemy as sa

    assert invoke("init", "--content-schema")[0] == 0
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO `tabMemora Academic Plan` (name, title, is_published) "
                "VALUES ('PLAN-REAL-2027', 'A real plan', 1)"
            )
        )
    code, out, err = invoke("demo")
    assert (code, out) == (2, "")
    assert err == (
        "error: the demo refuses this database: `tabMemora Academic Plan` holds rows it did "
        "not seed ('PLAN-REAL-2027'); point database_url at a database of the demo's own\n"
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM `tabMemora Subject`")).scalar() == 0
    engine.dispose()
    assert not (workdir / "cdn-out").exists()


def test_demo_refuses_a_site_database_with_frappe_tables_it_does_not_use(workdir: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite:///site.db")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE `tabUser` (name VARCHAR(140) PRIMARY KEY)"))
    code, _, err = invoke("--config", str(_config(workdir, "sqlite:///site.db")), "demo")
    assert code == 2
    assert err == (
        "error: the demo refuses this database: `tabUser` holds a table it does not seed; "
        "point database_url at a database of the demo's own\n"
    )
    assert set(sa.inspect(engine).get_table_names()) == {"tabUser"}
    engine.dispose()


def _config(folder: Path, database_url: str) -> Path:
    config = folder / "memora.toml"
    config.write_text(f'database_url = "{database_url}"\n', encoding="utf-8")
    return config


@pytest.mark.slow
def test_a_failed_rebuild_prints_its_failure_once_and_exits_with_its_code(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE `tabMemora Lesson` SET title = 'New' WHERE name = 'LES-00001'")
        )
    engine.dispose()
    (demo / "not-a-folder").write_text("x")
    monkeypatch.setenv("MEMORA_CDN_STORE", "file://./not-a-folder")
    result = subprocess.run(
        [sys.executable, "-m", "memora_cdn", "rebuild", "PLAN-G10-SCI"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 6  # a store error
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("failed PLAN-G10-SCI: store error on '.memora-cdn-store.json': ")
    assert "; retry at " in lines[0]


@pytest.mark.parametrize(
    ("url", "shown", "reason"),
    [
        ("oracle://x/y", "oracle://x/y", "no driver installed for it (No module named 'oracledb')"),
        (
            "mysql://u:pw@host:notaport/db",
            "mysql://u:***@host:notaport/db",
            "not a usable database URL (invalid literal for int() with base 10: 'notaport')",
        ),
    ],
)
def test_an_unusable_database_url_is_one_line_with_exit_2_and_no_password(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, url: str, shown: str, reason: str
) -> None:
    monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", url)
    result = subprocess.run(
        [sys.executable, "-m", "memora_cdn", "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: invalid setting database_url={shown}: {reason}\n"
    assert ":pw@" not in result.stderr


def test_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    from memora_cdn.__main__ import main

    real_import = builtins.__import__

    def interrupted_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "memora_cdn.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted_import)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 130
    assert capsys.readouterr() == ("", "error: interrupted\n")
