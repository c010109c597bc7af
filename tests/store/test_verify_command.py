"""`memora-cdn sync` and `verify` against the store the settings name (issue 7, items 6–7):
the index belongs to one store, and repair shows and bounds what it deletes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from catalogue import CatalogueBuilder
from clirun import invoke
from memora_cdn.core import paths
from memora_cdn.store.base import MARKER
from memora_cdn.store.local import FileStore


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None) -> Path:
    """The embedded defaults (./memora.db, ./cdn-out) with two small plans published."""
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "--content-schema")[0] == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'memora.db'}")
    build = CatalogueBuilder(engine)
    for plan in ("P1", "P2"):
        build.plan(plan, subjects=["MATH"])
    build.subject("MATH", title="Mathematics", is_public=True)
    build.track("T1", "MATH")
    build.unit("U1", "T1")
    build.topic("TP1", "U1")
    for n in (1, 2, 3):
        build.lesson(f"L{n}", "TP1", title=f"Lesson {n}")
    build.insert()
    engine.dispose()
    code, out, err = invoke("sync", "--all")
    assert code == 0, err
    assert "Uploaded 14 files" in out
    return tmp_path


def test_sync_all_to_a_new_store_publishes_everything(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = sorted(FileStore(workdir / "cdn-out").list_keys())
    monkeypatch.setenv("MEMORA_CDN_STORE", f"file://{workdir / 'new'}")

    code, out, err = invoke("sync", "--all")

    assert code == 0, err
    assert "Uploaded 14 files" in out
    assert sorted(FileStore(workdir / "new").list_keys()) == published
    assert (workdir / "new" / MARKER).is_file()
    assert "Nothing to upload: all 2 plans are up to date." in invoke("sync", "--all")[1]
    monkeypatch.delenv("MEMORA_CDN_STORE")  # the first store's index is still its own
    assert "Nothing to upload: all 2 plans are up to date." in invoke("sync", "--all")[1]


def test_verify_dry_run_prints_what_repair_would_do_and_changes_nothing(workdir: Path) -> None:
    store = FileStore(workdir / "cdn-out")
    lesson = paths.lesson_key("P1", "L2")
    stray = paths.lesson_key("P1", "OLD")
    store.delete([lesson])
    (workdir / "cdn-out" / stray).write_bytes(b"{}")
    (workdir / "cdn-out/plans/P2/units/.tmp-k1ll3d.part").write_bytes(b"{")
    files = sorted(p.relative_to(workdir) for p in (workdir / "cdn-out").rglob("*"))

    code, out, _ = invoke("verify", "--repair", "--dry-run")

    assert code == 1
    assert out.splitlines() == [
        f"missing: {lesson}",
        f"unexpected: {stray}",
        "partial: plans/P2/units/.tmp-k1ll3d.part",
        f"would delete: {stray}",
        "would delete: plans/P2/units/.tmp-k1ll3d.part",
        f"would re-upload: {lesson}",
        "would rebuild: P1",
        "Checked 13 files: 3 drifted.",
    ]
    assert sorted(p.relative_to(workdir) for p in (workdir / "cdn-out").rglob("*")) == files

    code, out, err = invoke("verify", "--repair")
    assert code == 0, err
    assert invoke("verify")[1].splitlines() == ["Checked 14 files: 0 drifted."]


def test_verify_repair_refuses_mass_delete_without_yes(workdir: Path) -> None:
    strays = [paths.lesson_key("P1", f"OLD{n:02}") for n in range(11)]
    for key in strays:
        (workdir / "cdn-out" / key).write_bytes(b"{}")

    code, _, err = invoke("verify", "--repair")

    assert code == 12
    assert err.strip() == (
        "error: repair would delete 11 files, more than 10: nothing was changed; run"
        " `memora-cdn verify --repair --dry-run` to see them, then pass --yes"
    )
    assert all((workdir / "cdn-out" / key).exists() for key in strays)
    assert invoke("verify", "--repair", "--yes")[0] == 0
    assert not any((workdir / "cdn-out" / key).exists() for key in strays)


def test_verify_against_a_store_that_lists_as_empty_exits_non_zero_and_keeps_everything(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "cdn-out").rename(workdir / "mounted")  # the folder is not mounted just now
    (workdir / "cdn-out").mkdir()

    code, _, err = invoke("verify", "--repair")

    assert code == 11
    assert err.startswith(f"error: store file://{workdir / 'cdn-out'} lists no files under")
    assert "the index says it holds 14 there: nothing was changed" in err
    (workdir / "cdn-out").rmdir()
    (workdir / "mounted").rename(workdir / "cdn-out")
    assert invoke("verify", "--repair")[1].splitlines() == ["Checked 14 files: 0 drifted."]


def test_verify_of_a_mistyped_store_says_nothing_was_published_there_and_changes_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = sorted(FileStore(workdir / "cdn-out").list_keys())
    typo = workdir / "cdn-outt"
    monkeypatch.setenv("MEMORA_CDN_STORE", f"file://{typo}")

    code, out, err = invoke("verify", "--repair")

    assert code == 0, err
    assert out.splitlines() == [
        "Checked 0 files: 0 drifted.",
        f"Nothing was ever published to store file://{typo} (check the store setting;"
        " `memora-cdn sync --all` publishes every plan there).",
    ]
    monkeypatch.delenv("MEMORA_CDN_STORE")
    assert sorted(FileStore(workdir / "cdn-out").list_keys()) == published
    assert invoke("verify")[1].splitlines() == ["Checked 14 files: 0 drifted."]
