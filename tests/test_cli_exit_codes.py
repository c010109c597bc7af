"""Every exit status the README's table lists, each produced by a command as a user runs it
(SPEC §8: non-zero on failure, one line, the README lists every code)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clirun import invoke
from fakes.cloudflare import FakeCloudflare

README = Path(__file__).resolve().parents[1] / "README.md"


def _edit_a_lesson() -> None:
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE `tabMemora Lesson` SET title = 'New' WHERE name = 'LES-00001'")
        )
    engine.dispose()


Scenario = Callable[[pytest.FixtureRequest, pytest.MonkeyPatch, Path], tuple[int, str, str]]


def success(request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path) -> tuple[int, str, str]:
    return invoke("status")


def validation_problems(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    lesson = folder / "cdn-out/plans/PLAN-G10-SCI/lessons/LES-00001.json"
    document = json.loads(lesson.read_bytes())
    document["stages"][0]["weight"] = "heavy"
    lesson.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return invoke("validate", "cdn-out")


def bad_setting(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    monkeypatch.setenv("MEMORA_CDN_BATCH_THRESHOLD", "0")
    return invoke("status")


def missing_column(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_lesson_parent_topic"))
        conn.execute(sa.text("ALTER TABLE `tabMemora Lesson` DROP COLUMN parent_topic"))
    engine.dispose()
    return invoke("rebuild", "PLAN-G10-SCI")


def unreachable(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    monkeypatch.setenv("MEMORA_CDN_STATE_DATABASE_URL", "mysql://reader:pw@127.0.0.1:1/state")
    return invoke("status")


def invalid_documents(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    monkeypatch.setattr(
        "memora_cdn.contracts.document.validate_document",
        lambda kind, document, file: [f"{file}: $.title: broken on purpose"],
    )
    return invoke("rebuild", "PLAN-G10-SCI")


def store_error(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    _edit_a_lesson()
    (folder / "not-a-folder").write_text("x")
    monkeypatch.setenv("MEMORA_CDN_STORE", "file://./not-a-folder")
    return invoke("rebuild", "PLAN-G10-SCI")


def wrong_password(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    server = request.getfixturevalue("mariadb_server")
    url = sa.make_url(server.url_for("mysql")).set(password="certainly-not-the-password")
    monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", url.render_as_string(hide_password=False))
    return invoke("status")


def not_found(request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path) -> tuple[int, str, str]:
    return invoke("rebuild", "PLAN-NOPE")


def purge_failed(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    cloudflare: FakeCloudflare = request.getfixturevalue("cloudflare")
    cloudflare.reject_next(100, "Purge rejected on purpose")
    _edit_a_lesson()
    monkeypatch.setenv("MEMORA_CDN_CDN_BASE_URL", "https://cdn.example.test")
    monkeypatch.setenv("MEMORA_CDN_CLOUDFLARE_ZONE_ID", cloudflare.zone_id)
    monkeypatch.setenv("MEMORA_CDN_CLOUDFLARE_API_TOKEN", cloudflare.token)
    monkeypatch.setenv("MEMORA_CDN_CLOUDFLARE_API_BASE", cloudflare.api_base)
    return invoke("rebuild", "PLAN-G10-SCI")


def access_denied(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    (folder / "state.db").touch()  # an empty database, opened read-only
    monkeypatch.setenv("MEMORA_CDN_STATE_DATABASE_URL", "sqlite:///file:state.db?mode=ro&uri=true")
    return invoke("status")


def store_does_not_match_the_index(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    assert invoke("sync", "--all")[0] == 0  # this folder's index (a copy is another store)
    (folder / "cdn-out").rename(folder / "unmounted")  # the folder is not mounted just now
    (folder / "cdn-out").mkdir()
    return invoke("verify", "--repair")


def repair_would_delete_too_much(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    lessons = folder / "cdn-out/plans/PLAN-G10-SCI/lessons"
    for n in range(11):
        (lessons / f"STRAY-{n}.json").write_bytes(b"{}")
    return invoke("verify", "--repair")


def interrupted(
    request: Any, monkeypatch: pytest.MonkeyPatch, folder: Path
) -> tuple[int, str, str]:
    def ctrl_c(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("memora_cdn.publish.Publisher.publish", ctrl_c)
    return invoke("rebuild", "PLAN-G10-SCI")


SCENARIOS: dict[int, tuple[Scenario, str]] = {
    0: (success, ""),
    1: (validation_problems, "3 problems found under cdn-out.\n"),  # field, unit and search links
    2: (bad_setting, "error: invalid setting batch_threshold=0: "),
    3: (missing_column, "error: source table `tabMemora Lesson` has no column `parent_topic`"),
    4: (unreachable, "error: cannot reach the database at mysql://reader:***@127.0.0.1:1/state"),
    5: (invalid_documents, "failed PLAN-G10-SCI: plan 'PLAN-G10-SCI' rendered invalid documents"),
    6: (store_error, "failed PLAN-G10-SCI: store error on '.memora-cdn-store.json': "),
    7: (wrong_password, "error: the database at mysql+pymysql://root:***@127.0.0.1:3306/"),
    8: (not_found, "error: no plan named 'PLAN-NOPE' in the source database"),
    9: (purge_failed, "failed PLAN-G10-SCI: CDN purge failed for "),
    10: (access_denied, "error: cannot create memora-cdn's state tables in sqlite:///file:"),
    11: (store_does_not_match_the_index, "error: store file://"),
    12: (repair_would_delete_too_much, "error: repair would delete 11 files, more than 10"),
    130: (interrupted, "error: interrupted: PLAN-G10-SCI was put back in the queue\n"),
}
"""Exit status → (a scenario that ends with it, how its stderr starts)."""


def _readme_codes() -> list[int]:
    section = README.read_text(encoding="utf-8").split("## Exit status", 1)[1].split("\n## ", 1)[0]
    return [int(code) for code in re.findall(r"^\| `(\d+)` \|", section, flags=re.MULTILINE)]


def test_the_readme_table_lists_every_exit_status_and_nothing_else() -> None:
    assert _readme_codes() == sorted(SCENARIOS)


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(code, marks=pytest.mark.mariadb) if code == 7 else code
        for code in sorted(SCENARIOS)
    ],
)
def test_each_exit_status_in_the_readme_is_what_its_failure_exits_with(
    code: int, demo: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    scenario, stderr_start = SCENARIOS[code]
    exit_code, _, err = scenario(request, monkeypatch, demo)
    assert exit_code == code, err
    assert err.startswith(stderr_start), err
    assert "Traceback" not in err
    if code:
        assert len(err.splitlines()) == 1, err
