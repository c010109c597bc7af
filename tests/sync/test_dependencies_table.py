"""Affected plans (SPEC §5): every doctype × every action, on a small in-memory catalogue.

The catalogue has three plans. X and Y share subject A; X also has C; Z has B; Y lists H,
an unpublished subject (so no publish ever showed it). Each subject has one chain of track,
unit, topic, lesson and stages (A's also holds the unpublished unit UH and lesson LH). The
member index is what each plan's last publish showed, plus the traces of what has changed
since: LD (a lesson deleted since, in X), L-OLD (renamed to L-NEW since, in X), LO (orphaned
since: its topic TP-GONE was deleted, in Z), L-GONE (a lesson deleted since, whose stage SO is
left behind, in Z), and old names of renamed rows (`*-OLD`) in Y.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from memora_cdn.core.events import Action, ChangeEvent
from memora_cdn.core.model import Doctype
from memora_cdn.sync.dependencies import affected_plans

PLAN = Doctype.PLAN
PLAN_SUBJECT = Doctype.PLAN_SUBJECT
PLAN_OVERRIDE = Doctype.PLAN_OVERRIDE
SUBJECT = Doctype.SUBJECT
TRACK = Doctype.TRACK
UNIT = Doctype.UNIT
TOPIC = Doctype.TOPIC
LESSON = Doctype.LESSON
STAGE = Doctype.LESSON_STAGE
SEASON = Doctype.SEASON
GRADE = Doctype.GRADE
STREAM = Doctype.STREAM

INSERT = Action.INSERT
UPDATE = Action.UPDATE
TRASH = Action.TRASH
DELETE = Action.DELETE
RESTORE = Action.RESTORE
RENAME = Action.RENAME

PLANS: dict[str, dict[Doctype, str]] = {
    "X": {SEASON: "SEA-24", GRADE: "G10", STREAM: "SCI"},
    "Y": {SEASON: "SEA-24", GRADE: "G11", STREAM: "LIT"},
    "Z": {SEASON: "SEA-25", GRADE: "G10", STREAM: "SCI"},
}
PLAN_SUBJECTS: dict[str, tuple[str, str]] = {
    "X-subjects-1": ("X", "A"),
    "X-subjects-2": ("X", "C"),
    "Y-subjects-1": ("Y", "A"),
    "Y-subjects-2": ("Y", "H"),
    "Z-subjects-1": ("Z", "B"),
}
PLAN_OVERRIDES: dict[str, str] = {"X-overrides-1": "X", "Z-overrides-1": "Z"}

# Each row's parent link, as the catalogue holds it now (subjects have none).
TREE: dict[Doctype, dict[str, str | None]] = {
    SUBJECT: {"A": None, "B": None, "C": None, "H": None},
    TRACK: {"TA": "A", "TB": "B", "TC": "C", "TD": None},
    UNIT: {"UA": "TA", "UB": "TB", "UC": "TC", "UH": "TA"},
    TOPIC: {"TPA": "UA", "TPA2": "UA", "TPB": "UB", "TPC": "UC"},
    LESSON: {
        "LA": "TPA",
        "LB": "TPB",
        "LC": "TPC",
        "LH": "TPA",
        "LO": "TP-GONE",
        "L-NEW": "TPB",
    },
    STAGE: {"LA-1": "LA", "LA-2": "LA", "LB-1": "LB", "LC-1": "LC", "SO": "L-GONE"},
}

_CHAIN_A = {SUBJECT: "A", TRACK: "TA", UNIT: "UA", TOPIC: "TPA", LESSON: "LA"}
_CHAIN_B = {SUBJECT: "B", TRACK: "TB", UNIT: "UB", TOPIC: "TPB", LESSON: "LB"}
_CHAIN_C = {SUBJECT: "C", TRACK: "TC", UNIT: "UC", TOPIC: "TPC", LESSON: "LC"}


def _chain(nodes: Mapping[Doctype, str], *stages: str) -> set[tuple[Doctype, str]]:
    return {*nodes.items(), *((STAGE, stage) for stage in stages)}


MEMBERS: dict[str, set[tuple[Doctype, str]]] = {
    "X": _chain(_CHAIN_A, "LA-1", "LA-2")
    | _chain(_CHAIN_C, "LC-1")
    | {(LESSON, "LD"), (STAGE, "LD-1"), (LESSON, "L-OLD")},
    "Y": _chain(_CHAIN_A, "LA-1", "LA-2")
    | {
        (SUBJECT, "S-OLD"),
        (TRACK, "T-OLD"),
        (UNIT, "U-OLD"),
        (TOPIC, "TP-OLD"),
        (STAGE, "ST-OLD"),
    },
    "Z": _chain(_CHAIN_B, "LB-1") | {(LESSON, "LO"), (LESSON, "L-GONE")},
}


class FakeCatalogue:
    """A `CatalogueGraph` over the dictionaries above, counting every lookup."""

    def __init__(self) -> None:
        self.lookups: list[tuple[str, str, str]] = []

    def parent(self, doctype: Doctype, name: str) -> str | None:
        self.lookups.append(("parent", doctype.value, name))
        if doctype is PLAN_SUBJECT:
            row = PLAN_SUBJECTS.get(name)
            return None if row is None else row[0]
        if doctype is PLAN_OVERRIDE:
            return PLAN_OVERRIDES.get(name)
        return TREE.get(doctype, {}).get(name)

    def plans_with_subject(self, subject: str) -> set[str]:
        self.lookups.append(("plans_with_subject", SUBJECT.value, subject))
        return {plan for plan, s in PLAN_SUBJECTS.values() if s == subject}

    def plans_referencing(self, doctype: Doctype, name: str) -> set[str]:
        self.lookups.append(("plans_referencing", doctype.value, name))
        return {plan for plan, links in PLANS.items() if links.get(doctype) == name}


class FakeMembers:
    """A `MemberIndex` over `MEMBERS`, keyed by doctype value as `cdn_plan_member` is."""

    def __init__(self) -> None:
        self.lookups: list[tuple[str, str]] = []

    def plans_with_member(self, doctype: str, name: str) -> set[str]:
        self.lookups.append((doctype, name))
        return {plan for plan, rows in MEMBERS.items() if (Doctype(doctype), name) in rows}


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    event: ChangeEvent
    expected: frozenset[str]


def case(
    label: str,
    doctype: Doctype,
    name: str,
    action: Action,
    expected: str,
    *,
    fields: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    old_name: str | None = None,
) -> Case:
    """`expected` is the plan names, space-separated ("" for none)."""
    event = ChangeEvent(doctype, name, action, dict(fields or {}), dict(before or {}), old_name)
    return Case(
        f"{doctype.value.removeprefix('Memora ')}|{action}|{label}",
        event,
        frozenset(expected.split()),
    )


def lesson_row(topic: str | None) -> dict[str, Any]:
    return {"title": "A lesson", "parent_topic": topic, "is_published": 1}


def stage_row(lesson: str | None) -> dict[str, Any]:
    return {"parent": lesson, "parenttype": LESSON.value, "parentfield": "stages", "type": "Text"}


def plan_row(plan: str, **values: Any) -> dict[str, Any]:
    return {"parent": plan, "parenttype": PLAN.value, **values}


CASES: list[Case] = [
    # -- Academic Plan: the plan itself --------------------------------------------------
    case("new plan", PLAN, "W", INSERT, "W", fields={"title": "W"}),
    case("unpublishing rebuilds (removes) it", PLAN, "X", UPDATE, "X",
         fields={"is_published": 0}, before={"is_published": 1}),
    case("season changed: only that plan", PLAN, "X", UPDATE, "X",
         fields={"season": "SEA-25"}, before={"season": "SEA-24"}),
    case("trashed", PLAN, "Y", TRASH, "Y"),
    case("deleted", PLAN, "Z", DELETE, "Z"),
    case("restored", PLAN, "Z", RESTORE, "Z"),
    case("renamed: new and old folder", PLAN, "X2", RENAME, "X2 X", old_name="X"),
    # -- Plan Subject: the plan it belongs to --------------------------------------------
    case("subject added to X: X only, not Z", PLAN_SUBJECT, "X-subjects-3", INSERT, "X",
         fields=plan_row("X", subject="B")),
    case("subject swapped", PLAN_SUBJECT, "X-subjects-1", UPDATE, "X",
         fields=plan_row("X", subject="B"), before=plan_row("X", subject="A")),
    case("partial fields: plan from the catalogue", PLAN_SUBJECT, "X-subjects-2", UPDATE, "X",
         fields={"sort_order": 3}),
    case("row moved between plans", PLAN_SUBJECT, "X-subjects-1", UPDATE, "X Y",
         fields=plan_row("Y", subject="A"), before=plan_row("X", subject="A")),
    case("removed (as trashed)", PLAN_SUBJECT, "Y-subjects-1", TRASH, "Y",
         fields=plan_row("Y", subject="A")),
    case("removed: plan from before", PLAN_SUBJECT, "Z-subjects-9", DELETE, "Z",
         before=plan_row("Z", subject="B")),
    case("removed with no trace: nothing", PLAN_SUBJECT, "Q-subjects-1", DELETE, ""),
    case("restored", PLAN_SUBJECT, "X-subjects-2", RESTORE, "X"),
    case("row renamed", PLAN_SUBJECT, "X-subjects-2", RENAME, "X", old_name="X-subjects-0"),
    # -- Plan Override: the plan it belongs to -------------------------------------------
    case("override added to Z", PLAN_OVERRIDE, "Z-overrides-2", INSERT, "Z",
         fields=plan_row("Z", target_doctype=UNIT.value, target_name="UB", action="Hide")),
    case("override changed (partial fields)", PLAN_OVERRIDE, "X-overrides-1", UPDATE, "X",
         fields={"action": "Set Free"}, before={"action": "Hide"}),
    case("override moved between plans", PLAN_OVERRIDE, "X-overrides-1", UPDATE, "X Z",
         fields=plan_row("Z"), before=plan_row("X")),
    case("override removed (as trashed)", PLAN_OVERRIDE, "Z-overrides-1", TRASH, "Z",
         fields=plan_row("Z")),
    case("override removed: plan from before", PLAN_OVERRIDE, "X-overrides-7", DELETE, "X",
         before=plan_row("X")),
    case("override restored", PLAN_OVERRIDE, "Z-overrides-1", RESTORE, "Z"),
    case("override row renamed", PLAN_OVERRIDE, "X-overrides-1", RENAME, "X",
         old_name="X-overrides-0"),
    # -- Subject: plans listing it, plans that showed it ---------------------------------
    case("shared subject edited: X and Y", SUBJECT, "A", UPDATE, "X Y", fields={"title": "A2"}),
    case("subject of Z edited", SUBJECT, "B", UPDATE, "Z"),
    case("unpublished subject published", SUBJECT, "H", UPDATE, "Y",
         fields={"is_published": 1}, before={"is_published": 0}),
    case("new subject in no plan", SUBJECT, "N", INSERT, ""),
    case("subject trashed", SUBJECT, "C", TRASH, "X"),
    case("subject deleted", SUBJECT, "A", DELETE, "X Y"),
    case("subject restored", SUBJECT, "C", RESTORE, "X"),
    case("subject renamed: old name's plans too", SUBJECT, "B", RENAME, "Y Z", old_name="S-OLD"),
    # -- Track -----------------------------------------------------------------------------
    case("track edited", TRACK, "TA", UPDATE, "X Y", fields={"parent_subject": "A"}),
    case("partial fields: parent from the catalogue", TRACK, "TC", UPDATE, "X",
         fields={"title": "TC2"}),
    case("track added under B", TRACK, "T-NEW", INSERT, "Z", fields={"parent_subject": "B"}),
    case("track moved from C to B: X and Z", TRACK, "TC", UPDATE, "X Z",
         fields={"parent_subject": "B"}, before={"parent_subject": "C"}),
    case("track detached from A: plans of before", TRACK, "TA", UPDATE, "X Y",
         fields={"parent_subject": ""}, before={"parent_subject": "A"}),
    case("track with no subject: nothing", TRACK, "TD", UPDATE, "",
         fields={"parent_subject": None}),
    case("track trashed", TRACK, "TB", TRASH, "Z", fields={"parent_subject": "B"}),
    case("track deleted: plans of before", TRACK, "T-DELETED", DELETE, "X",
         before={"parent_subject": "C"}),
    case("track restored", TRACK, "TB", RESTORE, "Z"),
    case("track renamed", TRACK, "TB", RENAME, "Y Z", old_name="T-OLD"),
    # -- Unit ------------------------------------------------------------------------------
    case("unit edited", UNIT, "UA", UPDATE, "X Y", fields={"parent_track": "TA"}),
    case("unit moved from a subject of X to one of Z", UNIT, "UC", UPDATE, "X Z",
         fields={"parent_track": "TB"}, before={"parent_track": "TC"}),
    case("unpublished unit published: not a member yet", UNIT, "UH", UPDATE, "X Y",
         fields={"parent_track": "TA", "is_published": 1}, before={"is_published": 0}),
    case("unit unpublished", UNIT, "UA", UPDATE, "X Y",
         fields={"parent_track": "TA", "is_published": 0}, before={"is_published": 1}),
    case("unit added under TC", UNIT, "U-NEW", INSERT, "X", fields={"parent_track": "TC"}),
    case("unit trashed", UNIT, "UB", TRASH, "Z", fields={"parent_track": "TB"}),
    case("unit deleted: plans of before", UNIT, "U-DELETED", DELETE, "Z",
         before={"parent_track": "TB"}),
    case("unit restored", UNIT, "UC", RESTORE, "X"),
    case("unit renamed", UNIT, "UB", RENAME, "Y Z", old_name="U-OLD"),
    # -- Topic -----------------------------------------------------------------------------
    case("topic edited", TOPIC, "TPA", UPDATE, "X Y", fields={"parent_unit": "UA"}),
    case("topic moved from UC to UA", TOPIC, "TPC", UPDATE, "X Y",
         fields={"parent_unit": "UA"}, before={"parent_unit": "UC"}),
    case("topic added under UB", TOPIC, "TP-NEW", INSERT, "Z", fields={"parent_unit": "UB"}),
    case("topic trashed", TOPIC, "TPC", TRASH, "X", fields={"parent_unit": "UC"}),
    case("topic deleted: plans of before", TOPIC, "TP-DELETED", DELETE, "Z",
         before={"parent_unit": "UB"}),
    case("topic restored", TOPIC, "TPB", RESTORE, "Z"),
    case("topic renamed", TOPIC, "TPA2", RENAME, "X Y", old_name="TP-OLD"),
    # -- Lesson ----------------------------------------------------------------------------
    case("lesson edited: X and Y only", LESSON, "LA", UPDATE, "X Y", fields=lesson_row("TPA")),
    case("partial fields: parent from the catalogue", LESSON, "LA", UPDATE, "X Y",
         fields={"title": "New title"}),
    case("lesson added under TPC", LESSON, "L-ADDED", INSERT, "X", fields=lesson_row("TPC")),
    case("lesson moved from TPA to TPB", LESSON, "LA", UPDATE, "X Y Z",
         fields=lesson_row("TPB"), before=lesson_row("TPA")),
    case("unpublished lesson published: not a member yet", LESSON, "LH", UPDATE, "X Y",
         fields={**lesson_row("TPA"), "is_published": 1}, before={"is_published": 0}),
    case("deleted lesson, no fields: members", LESSON, "LD", DELETE, "X"),
    case("lesson trashed", LESSON, "LC", TRASH, "X", fields=lesson_row("TPC")),
    case("lesson restored", LESSON, "LD", RESTORE, "X", fields=lesson_row("TPC")),
    case("lesson renamed: old name's and new name's plans", LESSON, "L-NEW", RENAME, "X Z",
         old_name="L-OLD"),
    case("orphan (topic missing): only members", LESSON, "LO", UPDATE, "Z",
         fields=lesson_row("TP-GONE")),
    case("orphan never published: nothing", LESSON, "L-STRAY", UPDATE, "",
         fields=lesson_row("TP-GONE")),
    # -- Lesson Stage ----------------------------------------------------------------------
    case("stage edited: plans of its lesson", STAGE, "LA-1", UPDATE, "X Y",
         fields=stage_row("LA")),
    case("partial fields: lesson from the catalogue", STAGE, "LB-1", UPDATE, "Z",
         fields={"title": "Intro"}),
    case("stage added to LC", STAGE, "LC-2", INSERT, "X", fields=stage_row("LC")),
    case("stage moved from LA to LB", STAGE, "LA-2", UPDATE, "X Y Z",
         fields=stage_row("LB"), before=stage_row("LA")),
    case("stage trashed", STAGE, "LC-1", TRASH, "X", fields=stage_row("LC")),
    case("deleted stage, no fields: members", STAGE, "LD-1", DELETE, "X"),
    case("deleted stage: plans of its lesson before", STAGE, "LB-9", DELETE, "Z",
         before=stage_row("LB")),
    case("stage restored", STAGE, "LC-1", RESTORE, "X"),
    case("stage renamed", STAGE, "LB-1", RENAME, "Y Z", old_name="ST-OLD"),
    case("orphan stage: members of its deleted lesson", STAGE, "SO", UPDATE, "Z",
         fields=stage_row("L-GONE")),
    case("row of another parent doctype: nothing", STAGE, "ST-FOREIGN", UPDATE, "",
         fields={**stage_row("LA"), "parenttype": TOPIC.value}),
    # -- Season, Grade, Stream: plans that reference them --------------------------------
    case("season edited", SEASON, "SEA-24", UPDATE, "X Y", fields={"title": "2024-25"}),
    case("new season", SEASON, "SEA-26", INSERT, ""),
    case("season trashed", SEASON, "SEA-25", TRASH, "Z"),
    case("season deleted", SEASON, "SEA-24", DELETE, "X Y"),
    case("season restored", SEASON, "SEA-25", RESTORE, "Z"),
    case("season renamed: links not yet updated", SEASON, "SEA-2024", RENAME, "X Y",
         old_name="SEA-24"),
    case("grade edited", GRADE, "G10", UPDATE, "X Z"),
    case("new grade", GRADE, "G12", INSERT, ""),
    case("grade trashed", GRADE, "G11", TRASH, "Y"),
    case("grade deleted", GRADE, "G11", DELETE, "Y"),
    case("grade restored", GRADE, "G10", RESTORE, "X Z"),
    case("grade renamed: links already updated", GRADE, "G11", RENAME, "Y", old_name="G-11"),
    case("stream edited", STREAM, "SCI", UPDATE, "X Z"),
    case("new stream", STREAM, "ART", INSERT, ""),
    case("stream trashed", STREAM, "LIT", TRASH, "Y"),
    case("stream deleted", STREAM, "LIT", DELETE, "Y"),
    case("stream restored", STREAM, "SCI", RESTORE, "X Z"),
    case("stream renamed", STREAM, "LIT", RENAME, "Y", old_name="LITERATURE"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_affected_plans(case: Case) -> None:
    assert affected_plans(case.event, FakeCatalogue(), FakeMembers()) == case.expected


def test_the_table_covers_every_doctype_with_every_action() -> None:
    covered = {(c.event.doctype, c.event.action) for c in CASES}
    missing = {(d, a) for d in Doctype for a in Action} - covered
    assert not missing


def test_a_lesson_edit_costs_one_lookup_per_ancestor_level() -> None:
    graph, members = FakeCatalogue(), FakeMembers()
    event = ChangeEvent(LESSON, "LA", UPDATE, lesson_row("TPA"))
    assert affected_plans(event, graph, members) == {"X", "Y"}
    assert graph.lookups == [
        ("parent", TOPIC.value, "TPA"),
        ("parent", UNIT.value, "UA"),
        ("parent", TRACK.value, "TA"),
        ("plans_with_subject", SUBJECT.value, "A"),
    ]
    assert members.lookups == [(LESSON.value, "LA")]


def test_a_move_within_a_unit_walks_the_shared_ancestors_once() -> None:
    graph = FakeCatalogue()
    event = ChangeEvent(LESSON, "LA", UPDATE, lesson_row("TPA2"), lesson_row("TPA"))
    assert affected_plans(event, graph, FakeMembers()) == {"X", "Y"}
    assert graph.lookups == [
        ("parent", TOPIC.value, "TPA2"),
        ("parent", UNIT.value, "UA"),
        ("parent", TRACK.value, "TA"),
        ("plans_with_subject", SUBJECT.value, "A"),
        ("parent", TOPIC.value, "TPA"),
    ]


def test_a_stage_edit_also_asks_for_its_lessons_members() -> None:
    members = FakeMembers()
    event = ChangeEvent(STAGE, "LA-1", UPDATE, stage_row("LA"))
    affected_plans(event, FakeCatalogue(), members)
    assert sorted(members.lookups) == [(LESSON.value, "LA"), (STAGE.value, "LA-1")]


class LoopingCatalogue(FakeCatalogue):
    """Bad data: every row's parent has the same name as the row."""

    def parent(self, doctype: Doctype, name: str) -> str | None:
        self.lookups.append(("parent", doctype.value, name))
        return name

    def plans_with_subject(self, subject: str) -> set[str]:
        self.lookups.append(("plans_with_subject", SUBJECT.value, subject))
        return {"P"}


def test_a_walk_on_self_referencing_rows_ends() -> None:
    graph = LoopingCatalogue()
    event = ChangeEvent(STAGE, "N", UPDATE, stage_row("N"), stage_row("M"))
    assert affected_plans(event, graph, FakeMembers()) == {"P"}
    assert len(graph.lookups) <= 2 * 5
