"""The Python API a Frappe app calls from `doc_events`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memora_cdn import entry, hooks
from memora_cdn.core.events import Action
from memora_cdn.core.model import Doctype
from memora_cdn.hooks import DocumentHook, event_from_document
from sitekit import Site


@dataclass
class FakeDoc:
    """Duck-types a Frappe document: `.doctype`, `.name`, `.as_dict()`, before-save copy."""

    doctype: str
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    before: FakeDoc | None = None

    def as_dict(self) -> Mapping[str, Any]:
        return {"doctype": self.doctype, "name": self.name, **self.values}

    def get_doc_before_save(self) -> FakeDoc | None:
        return self.before


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    b = site.build
    b.plan("X", subjects=["A"])
    b.plan("Z", subjects=["B"])
    for subject in ("A", "B"):
        b.subject(subject)
        b.track(f"{subject}-T", subject)
        b.unit(f"{subject}-U", f"{subject}-T")
        b.topic(f"{subject}-TP", f"{subject}-U")
        b.lesson(f"{subject}-L", f"{subject}-TP")
    site.queue_all()
    site.batch()
    yield site
    site.close()


def test_a_saved_lesson_queues_the_plans_that_show_it(site: Site) -> None:
    hook = DocumentHook(site.app.intake)
    doc = FakeDoc("Memora Lesson", "A-L", {"title": "New", "parent_topic": "A-TP"})
    result = hook(doc, "on_update")
    assert result is not None
    assert result.plans == {"X"}
    assert site.app.queue.pending_count() == 1


def test_a_move_seen_through_the_document_before_save_queues_both_plans(site: Site) -> None:
    hook = DocumentHook(site.app.intake)
    before = FakeDoc("Memora Unit", "A-U", {"parent_track": "A-T"})
    doc = FakeDoc("Memora Unit", "A-U", {"parent_track": "B-T"}, before)
    result = hook(doc, "on_update")
    assert result is not None
    assert result.plans == {"X", "Z"}


def test_rename_carries_the_old_name(site: Site) -> None:
    event = event_from_document(FakeDoc("Memora Lesson", "A-L2"), "after_rename", "A-L")
    assert event is not None
    assert (event.action, event.old_name) == (Action.RENAME, "A-L")
    result = DocumentHook(site.app.intake)(FakeDoc("Memora Lesson", "A-L2"), "after_rename", "A-L")
    assert result is not None
    assert result.plans == {"X"}  # the old name was in X's last publish


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("after_insert", Action.INSERT),
        ("on_update", Action.UPDATE),
        ("on_trash", Action.TRASH),
        ("after_delete", Action.DELETE),
        ("after_rename", Action.RENAME),
    ],
)
def test_frappe_methods_map_to_actions(method: str, action: Action) -> None:
    event = event_from_document(FakeDoc("Memora Topic", "T"), method)
    assert event is not None
    assert (event.doctype, event.action) == (Doctype.TOPIC, action)


def test_documents_of_other_doctypes_are_ignored(site: Site) -> None:
    assert DocumentHook(site.app.intake)(FakeDoc("Sales Invoice", "SINV-1"), "on_update") is None
    assert site.app.queue.pending_count() == 0


def test_the_doc_events_handler_never_fails_a_save(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def __call__(self, *args: object) -> None:
            raise ConnectionError("queue unreachable")

    monkeypatch.setattr(hooks, "_default_hook", Broken)
    hooks.on_change(FakeDoc("Memora Lesson", "L1"), "on_update")
    assert "could not queue Memora Lesson 'L1' (on_update)" in caplog.text


def test_the_doc_events_handler_uses_the_environment_settings(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", site.database_url)
    monkeypatch.setenv("MEMORA_CDN_STATE_DATABASE_URL", site.settings.state_url)
    monkeypatch.setattr(entry, "_process_app", None)
    hooks.on_change(FakeDoc("Memora Lesson", "B-L", {"parent_topic": "B-TP"}), "on_update")
    assert site.app.queue.pending_count() == 1
    built = entry._process_app
    assert built is not None
    assert built.settings.database_url == site.database_url
    built.close()
