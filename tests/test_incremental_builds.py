"""Incremental builds (issue 10): a rebuild validates only the documents whose content
changed, while the schemas that validated the rest are still the current ones."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import memora_cdn.publish
from memora_cdn.contracts.document import Problem, check_body
from memora_cdn.core.model import Doctype, Snapshot
from memora_cdn.core.paths import DocKind
from memora_cdn.errors import InvalidDocumentsError
from sitekit import Site


def build(site: Site) -> None:
    b = site.build
    b.plan("P1", title="Plan", subjects=["S1"])
    b.subject("S1", title="Subject")
    b.track("T1", "S1")
    for unit in ("U1", "U2"):
        b.unit(unit, "T1")
        b.topic(f"{unit}-TP", unit)
        for n in (1, 2):
            lesson = b.lesson(f"{unit}-L{n}", f"{unit}-TP")
            b.stage(lesson, type="Text", config={"body": f"text of {lesson}"})
    b.insert()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    try:
        build(site)
        yield site
    finally:
        site.close()


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The plan files the publisher parses back and checks against their schema, in order
    (`plans.json`, written from the index, is checked whenever it is rendered)."""
    keys: list[str] = []

    def spy(kind: DocKind, body: bytes, file: str) -> tuple[Any, list[Problem]]:
        if file.startswith("plans/"):
            keys.append(file)
        return check_body(kind, body, file)

    monkeypatch.setattr(memora_cdn.publish, "check_body", spy)
    return keys


def test_a_stage_edit_validates_only_the_documents_it_changed(
    site: Site, validated: list[str]
) -> None:
    first = site.app.publisher.publish("P1")
    assert sorted(validated) == sorted(first.uploaded_keys)  # everything, the first time
    validated.clear()
    site.clock.advance(60)
    site.update(Doctype.LESSON_STAGE, "U1-L1-stages-1", config='{"body": "edited"}')

    result = site.app.publisher.publish("P1")

    assert sorted(validated) == sorted(result.uploaded_keys)
    assert "plans/P1/lessons/U1-L1.json" in validated
    assert "plans/P1/lessons/U2-L1.json" not in validated
    assert len(validated) < result.files
    site.assert_store_equals_fresh_export()


def test_a_rebuild_with_no_change_validates_nothing(site: Site, validated: list[str]) -> None:
    site.app.publisher.publish("P1")
    validated.clear()
    site.clock.advance(60)
    assert site.app.publisher.publish("P1").counts.files_uploaded == 0
    assert validated == []


def test_a_changed_document_that_breaks_its_schema_still_fails_the_build(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.app.publisher.publish("P1")
    before = {key: site.store.get(key) for key in site.keys("P1")}
    load = site.app.source.load

    def nan_weight(plan: str, published: Any = frozenset()) -> Snapshot | None:
        """One stage with a value the encoder writes as null: only its lesson changes."""
        snapshot = load(plan, published)
        assert snapshot is not None
        stages = tuple(
            replace(s, weight=math.nan) if s.name == "U2-L2-stages-1" else s
            for s in snapshot.stages
        )
        return replace(snapshot, stages=stages)

    monkeypatch.setattr(site.app.source, "load", nan_weight)
    site.clock.advance(60)

    with pytest.raises(InvalidDocumentsError) as raised:
        site.app.publisher.publish("P1")

    assert raised.value.problems == [
        "plans/P1/lessons/U2-L2.json: $.stages[0].weight: must be a number, not null"
    ]
    assert {key: site.store.get(key) for key in site.keys("P1")} == before


def test_new_schemas_revalidate_every_document_once(
    site: Site, validated: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = site.app.publisher.publish("P1")
    validated.clear()
    monkeypatch.setattr(memora_cdn.publish, "schemas_digest", lambda: "e" * 64)
    site.clock.advance(60)

    again = site.app.publisher.publish("P1")

    assert again.counts.files_uploaded == 0
    assert sorted(validated) == sorted(first.uploaded_keys)
    validated.clear()
    site.app.publisher.publish("P1")
    assert validated == []


def test_a_plan_removed_and_published_again_is_validated_in_full(
    site: Site, validated: list[str]
) -> None:
    site.app.publisher.publish("P1")
    site.update(Doctype.PLAN, "P1", is_published=0)
    site.app.publisher.publish("P1")
    assert site.app.state.validated_digest(site.app.store.identity, "P1") is None
    site.update(Doctype.PLAN, "P1", is_published=1)
    validated.clear()
    result = site.app.publisher.publish("P1")
    assert sorted(validated) == sorted(result.uploaded_keys)
    assert len(validated) == result.files


@pytest.mark.parametrize(
    "db_url",
    [
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
def test_the_validated_schemas_are_kept_per_store_and_plan_in_the_state_database(
    tmp_path: Path, db_url: str, validated: list[str]
) -> None:
    site = Site(tmp_path, database_url=db_url, state_database_url=db_url)
    try:
        build(site)
        site.app.publisher.publish("P1")
        identity = site.app.store.identity
        digest = memora_cdn.publish.schemas_digest()
        assert site.app.state.validated_digest(identity, "P1") == digest
        assert site.app.state.validated_digest("file:///elsewhere", "P1") is None
        validated.clear()
        site.clock.advance(60)
        site.update(Doctype.LESSON_STAGE, "U1-L2-stages-1", config='{"body": "edited"}')
        result = site.app.publisher.publish("P1")
        assert sorted(validated) == sorted(result.uploaded_keys)
        assert site.app.state.validated_digest(identity, "P1") == digest
    finally:
        site.close()
