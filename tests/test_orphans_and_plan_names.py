"""Orphans are a plan's warning only when that plan published them; the site-wide list is
`memora-cdn status`'s. Plans whose name cannot be a path segment are skipped (SPEC §2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memora_cdn.cli import app
from memora_cdn.core.model import Doctype, SyncStatus
from sitekit import Site

ORPHAN_WARNING = "Memora Lesson 'Y-L1': parent Memora Topic 'Y-TP-GONE' not found; skipped (orphan)"


def two_plans(site: Site) -> None:
    b = site.build
    for plan in ("X", "Y"):
        b.plan(plan, subjects=[f"{plan}-S"])
        b.subject(f"{plan}-S")
        b.track(f"{plan}-T", f"{plan}-S")
        b.unit(f"{plan}-U", f"{plan}-T")
        b.topic(f"{plan}-TP", f"{plan}-U")
        b.lesson(f"{plan}-L1", f"{plan}-TP")
        b.lesson(f"{plan}-L2", f"{plan}-TP")
    b.lesson("STRAY", "NOWHERE")  # an orphan no plan ever published
    b.insert()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    yield site
    site.close()


def test_an_orphan_is_in_the_log_of_the_plan_that_published_it_only_and_only_once(
    site: Site,
) -> None:
    two_plans(site)
    publish = site.app.publisher.publish
    assert (publish("X").warnings, publish("Y").warnings) == ((), ())

    site.update(Doctype.LESSON, "Y-L1", parent_topic="Y-TP-GONE")
    site.update(Doctype.LESSON, "X-L2", parent_topic="X-TP-GONE")

    assert publish("Y").warnings == (ORPHAN_WARNING,)
    assert publish("X").warnings == (
        "Memora Lesson 'X-L2': parent Memora Topic 'X-TP-GONE' not found; skipped (orphan)",
    )
    # Y no longer publishes it: the next build has nothing to say about it.
    assert publish("Y").warnings == ()
    assert "plans/Y/lessons/Y-L1.json" not in site.keys("Y")


def test_status_lists_every_orphan_of_the_site_once(
    site: Site, monkeypatch: pytest.MonkeyPatch, no_settings_env: None
) -> None:
    two_plans(site)
    for name, value in (
        ("DATABASE_URL", site.database_url),
        ("STATE_DATABASE_URL", str(site.settings.state_database_url)),
        ("STORE", str(site.settings.store)),
    ):
        monkeypatch.setenv(f"MEMORA_CDN_{name}", value)
    runner = CliRunner()

    text = runner.invoke(app, ["status"])
    as_json = runner.invoke(app, ["status", "--json"])

    assert text.exit_code == 0, text.output
    assert (
        "Orphans (skipped in every plan): 1\n"
        "  Memora Lesson 'STRAY': parent Memora Topic 'NOWHERE' not found; skipped (orphan)\n"
    ) in text.stdout
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["orphans"] == [
        {
            "doctype": "Memora Lesson",
            "name": "STRAY",
            "parent_doctype": "Memora Topic",
            "parent": "NOWHERE",
        }
    ]


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_a_plan_whose_name_cannot_be_a_path_segment_is_skipped_with_a_warning(
    site: Site, name: str
) -> None:
    two_plans(site)
    site.build.plan(name, subjects=["X-S"])
    site.build.insert()

    result = site.app.publisher.publish(name)

    assert result.warnings == (
        f"Memora Academic Plan {name!r}: name cannot be a path segment; skipped",
    )
    assert site.app.state.sync_log(plan=name)[0].status is SyncStatus.SUCCESS
    assert site.keys() == set()


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_a_batch_with_a_plan_named_empty_dot_or_dot_dot_publishes_the_others_and_dead_letters_none(
    site: Site, name: str
) -> None:
    two_plans(site)
    site.build.plan(name, subjects=["X-S"])
    site.queue_all()

    report = site.batch()

    assert {o.plan: o.status for o in report.outcomes} == {
        "X": SyncStatus.SUCCESS,
        "Y": SyncStatus.SUCCESS,
    }
    assert site.app.queue.stats(site.clock.datetime()).dead_letter == 0
    (row,) = site.app.state.sync_log(plan=name)
    assert row.status is SyncStatus.SUCCESS
    assert row.warnings == (
        f"Memora Academic Plan {name!r}: name cannot be a path segment; skipped",
    )
    plans = {key.split("/")[1] for key in site.store.list_keys("plans/")}
    assert plans == {"X", "Y"}
