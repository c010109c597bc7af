"""The access truth table (SPEC §2): one small tree + overrides per case, and what the plan shows.

Every case names the rule it pins. Access blocks are compared as the exact `as_json()` dict a
student app reads; warnings are compared word for word, in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from memora_cdn.core.access import ResolvedNode, ResolvedPlan, resolve
from memora_cdn.core.model import Node, NodeKind, Override, Plan, PlanSubject, Snapshot, Stage

# -- vocabulary ---------------------------------------------------------------------------

SUBJECT = "Memora Subject"
TRACK = "Memora Track"
UNIT = "Memora Unit"
TOPIC = "Memora Topic"
LESSON = "Memora Lesson"

HIDE = "Hide"
RENAME = "Rename"
SET_FREE = "Set Free"
SET_LEVEL = "Set Access Level"
SET_SOLD = "Set Sold Separately"
SET_LINEAR = "Set Linear"

PUBLIC = {
    "is_published": True,
    "access_level": "public",
    "is_sold_separately": False,
    "parent_item_required": False,
}
AUTHENTICATED = {**PUBLIC, "access_level": "authenticated"}
FREE_PREVIEW = {**PUBLIC, "access_level": "free_preview"}


def paid(item: str, *, parent_item_required: bool, sold: bool = False) -> dict[str, object]:
    return {
        "is_published": True,
        "access_level": "paid",
        "is_sold_separately": sold,
        "parent_item_required": parent_item_required,
        "required_item": item,
    }


CHAIN = ("S1", "T1", "U1", "P1", "L1")
"""The names `chain()` gives its subject, track, unit, topic and lesson."""


def every(block: Mapping[str, object], *names: str) -> dict[str, Mapping[str, object]]:
    return dict.fromkeys(names, block)


# -- building trees -----------------------------------------------------------------------


def _node(kind: NodeKind, name: str, parent: str | None, fields: Mapping[str, Any]) -> Node:
    fields = dict(fields)
    return Node(kind, name, fields.pop("title", name), parent, **fields)


def subject(name: str, **fields: Any) -> Node:
    return _node(NodeKind.SUBJECT, name, None, fields)


def track(name: str, parent: str, **fields: Any) -> Node:
    return _node(NodeKind.TRACK, name, parent, fields)


def unit(name: str, parent: str, **fields: Any) -> Node:
    return _node(NodeKind.UNIT, name, parent, fields)


def topic(name: str, parent: str, **fields: Any) -> Node:
    return _node(NodeKind.TOPIC, name, parent, fields)


def lesson(name: str, parent: str, **fields: Any) -> Node:
    return _node(NodeKind.LESSON, name, parent, fields)


def chain(
    subject_: Mapping[str, Any] | None = None,
    track_: Mapping[str, Any] | None = None,
    unit_: Mapping[str, Any] | None = None,
    topic_: Mapping[str, Any] | None = None,
    lesson_: Mapping[str, Any] | None = None,
) -> tuple[Node, ...]:
    """Subject S1 > Track T1 > Unit U1 > Topic P1 > Lesson L1, with the given fields."""
    return (
        subject("S1", **(subject_ or {})),
        track("T1", "S1", **(track_ or {})),
        unit("U1", "T1", **(unit_ or {})),
        topic("P1", "U1", **(topic_ or {})),
        lesson("L1", "P1", **(lesson_ or {})),
    )


def ov(doctype: str, name: str, action: str, value: str | None = None, *, idx: int) -> Override:
    return Override(doctype, name, action, value, idx)


@dataclass(frozen=True)
class Case:
    nodes: tuple[Node, ...]
    overrides: tuple[Override, ...] = ()
    plan_subjects: tuple[PlanSubject, ...] | None = None
    """The plan's subject rows; by default every subject node, in the order given."""
    access: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """Expected access block by node name (or `kind:name` where names repeat across kinds)."""
    visible: tuple[str, ...] | None = None
    """Every visible node name, depth first in display order (None: not checked)."""
    titles: Mapping[str, str] = field(default_factory=dict)
    linear: Mapping[str, bool] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    snapshot_warnings: tuple[str, ...] = ()


# -- the table ----------------------------------------------------------------------------

CASES = [
    # Rule 7: a subject is public or authenticated; other nodes take their parent's level.
    pytest.param(
        Case(
            chain(subject_={"is_public": True}),
            access={
                **every(PUBLIC, *CHAIN),
                # SPEC §2 example 1, verbatim: a published free Unit under a public subject.
                "U1": {
                    "is_published": True,
                    "access_level": "public",
                    "is_sold_separately": False,
                    "parent_item_required": False,
                },
            },
        ),
        id="rule7-spec-example-1-unit-under-public-subject-is-public",
    ),
    pytest.param(
        Case(chain(), access=every(AUTHENTICATED, *CHAIN)),
        id="rule7-subject-not-public-is-authenticated-and-so-is-its-tree",
    ),
    pytest.param(
        Case(
            chain(track_={"is_public": True}, unit_={"is_public": True}),
            access=every(AUTHENTICATED, *CHAIN),
        ),
        id="rule7-is_public-below-a-subject-is-ignored",
    ),
    # Rule 4: own required_item (Subject, Track) -> paid.
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001", "is_public": True}),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("COURSE-001", parent_item_required=True), "T1", "U1", "P1"),
                # SPEC §2 example 2, verbatim: a lesson of a subject with item COURSE-001.
                "L1": {
                    "is_published": True,
                    "access_level": "paid",
                    "is_sold_separately": False,
                    "parent_item_required": True,
                    "required_item": "COURSE-001",
                },
            },
        ),
        id="rule4-spec-example-2-subject-item-makes-every-lesson-paid",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}, track_={"required_item": "TRACK-1"}),
            access={
                "S1": PUBLIC,
                **every(paid("TRACK-1", parent_item_required=False), "T1", "U1", "P1", "L1"),
            },
        ),
        id="rule4-track-own-item-under-public-subject",
    ),
    pytest.param(
        Case(
            chain(
                subject_={"is_public": True},
                unit_={"required_item": "UNIT-1"},
                topic_={"required_item": "TOPIC-1"},
                lesson_={"required_item": "LESSON-1"},
            ),
            access=every(PUBLIC, *CHAIN),
        ),
        id="rule4-required_item-below-track-is-not-an-own-item",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_free_preview": True}, track_={"required_item": "TRACK-1"}),
            access={
                "S1": FREE_PREVIEW,
                **every(paid("TRACK-1", parent_item_required=False), "T1", "U1", "P1", "L1"),
            },
        ),
        id="rule4-beats-rule5-track-item-under-free-preview-subject",
    ),
    # Rule 3: is_free_preview -> free_preview.
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={
                    "is_free_preview": True,
                    "required_item": "TRACK-1",
                    "is_sold_separately": True,
                    "parent_item_required": True,
                },
            ),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(FREE_PREVIEW, "T1", "U1", "P1", "L1"),
            },
        ),
        id="rule3-beats-rule4-free-preview-track-with-own-item",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001"}, unit_={"is_free_preview": True}),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                "T1": paid("COURSE-001", parent_item_required=True),
                **every(FREE_PREVIEW, "U1", "P1", "L1"),
            },
        ),
        id="rule3-rule5-spec-example-4-free-unit-under-paid-subject-frees-its-tree",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_free_preview": True, "required_item": "COURSE-001"}),
            access=every(FREE_PREVIEW, *CHAIN),
        ),
        id="rule3-beats-rule4-free-preview-subject-with-own-item",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}, lesson_={"is_free_preview": True}),
            access={**every(PUBLIC, "S1", "T1", "U1", "P1"), "L1": FREE_PREVIEW},
        ),
        id="rule3-free-preview-lesson-under-public-subject",
    ),
    # Rule 2: Set Free -> free_preview.
    pytest.param(
        Case(
            chain(
                subject_={"is_public": True},
                track_={"required_item": "TRACK-1", "is_sold_separately": True},
            ),
            overrides=(ov(TRACK, "T1", SET_FREE, idx=1),),
            access={"S1": PUBLIC, **every(FREE_PREVIEW, "T1", "U1", "P1", "L1")},
        ),
        id="rule2-beats-rule4-set-free-on-track-with-own-item",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001"}),
            overrides=(ov(SUBJECT, "S1", SET_FREE, idx=1),),
            access=every(FREE_PREVIEW, *CHAIN),
        ),
        id="rule2-set-free-on-paid-subject-frees-the-whole-subject",
    ),
    pytest.param(
        Case(
            chain(track_={"required_item": "TRACK-1"}),
            overrides=(ov(UNIT, "U1", SET_FREE, idx=1),),
            access={
                "S1": AUTHENTICATED,
                "T1": paid("TRACK-1", parent_item_required=False),
                **every(FREE_PREVIEW, "U1", "P1", "L1"),
            },
        ),
        id="rule2-rule5-beats-rule6-set-free-unit-under-paid-track",
    ),
    # Rule 1: Set Access Level, each valid value, beats everything else.
    pytest.param(
        Case(
            chain(subject_={"is_public": True}),
            overrides=(
                ov(UNIT, "U1", SET_LEVEL, "authenticated", idx=1),
                ov(UNIT, "U1", SET_FREE, idx=2),
            ),
            access={**every(PUBLIC, "S1", "T1"), **every(AUTHENTICATED, "U1", "P1", "L1")},
        ),
        id="rule1-beats-rule2-set-free-in-a-later-row",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}),
            overrides=(
                ov(UNIT, "U1", SET_FREE, idx=1),
                ov(UNIT, "U1", SET_LEVEL, "authenticated", idx=2),
            ),
            access={**every(PUBLIC, "S1", "T1"), **every(AUTHENTICATED, "U1", "P1", "L1")},
        ),
        id="rule1-beats-rule2-set-free-in-an-earlier-row",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001"}, unit_={"is_free_preview": True}),
            overrides=(ov(UNIT, "U1", SET_LEVEL, "paid", idx=1),),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("COURSE-001", parent_item_required=True), "T1", "U1", "P1", "L1"),
            },
        ),
        id="rule1-paid-beats-rule3-free-preview-flag",
    ),
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={"required_item": "TRACK-1", "is_sold_separately": True},
            ),
            overrides=(ov(TRACK, "T1", SET_LEVEL, "public", idx=1),),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(PUBLIC, "T1", "U1", "P1", "L1"),
            },
        ),
        id="rule1-public-beats-rule4-track-own-item",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001"}),
            overrides=(ov(LESSON, "L1", SET_LEVEL, "public", idx=1),),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("COURSE-001", parent_item_required=True), "T1", "U1", "P1"),
                "L1": PUBLIC,
            },
        ),
        id="rule1-public-beats-rule6-lesson-under-paid-subject",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}),
            overrides=(ov(TOPIC, "P1", SET_LEVEL, "authenticated", idx=1),),
            access={**every(PUBLIC, "S1", "T1", "U1"), **every(AUTHENTICATED, "P1", "L1")},
        ),
        id="rule1-authenticated-topic-under-public-subject",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}),
            overrides=(ov(SUBJECT, "S1", SET_LEVEL, "public", idx=1),),
            access=every(PUBLIC, *CHAIN),
        ),
        id="rule1-public-subject-without-is_public",
    ),
    pytest.param(
        Case(
            chain(track_={"required_item": "TRACK-1"}),
            overrides=(ov(TOPIC, "P1", SET_LEVEL, "free_preview", idx=1),),
            access={
                "S1": AUTHENTICATED,
                **every(paid("TRACK-1", parent_item_required=False), "T1", "U1"),
                **every(FREE_PREVIEW, "P1", "L1"),
            },
        ),
        id="rule1-free_preview-topic-under-paid-track",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001"}),
            overrides=(ov(TRACK, "T1", SET_FREE, idx=1), ov(UNIT, "U1", SET_LEVEL, "paid", idx=2)),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                "T1": FREE_PREVIEW,
                **every(paid("COURSE-001", parent_item_required=True), "U1", "P1", "L1"),
            },
        ),
        id="rule1-paid-unit-under-free-track-takes-the-subject-item",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_free_preview": True, "required_item": "COURSE-001"}),
            overrides=(ov(SUBJECT, "S1", SET_LEVEL, "paid", idx=1),),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("COURSE-001", parent_item_required=True), "T1", "U1", "P1", "L1"),
            },
        ),
        id="rule1-paid-subject-with-own-item-beats-free-preview-flag",
    ),
    # A paid level with no item anywhere up the chain: warning, treated as authenticated.
    pytest.param(
        Case(
            (
                *chain(subject_={"is_public": True}),
                lesson("L2", "P1", is_free_preview=True),
            ),
            overrides=(ov(UNIT, "U1", SET_LEVEL, "paid", idx=1),),
            access={
                **every(PUBLIC, "S1", "T1"),
                **every(AUTHENTICATED, "U1", "P1", "L1"),
                "L2": FREE_PREVIEW,
            },
            warnings=(
                "Memora Unit 'U1': access level 'paid' but no required_item on it or any "
                "ancestor; treated as 'authenticated'",
            ),
        ),
        id="paid-without-item-is-authenticated-and-children-see-authenticated",
    ),
    pytest.param(
        Case(
            chain(track_={"required_item": "TRACK-1", "parent_item_required": True}),
            overrides=(ov(SUBJECT, "S1", SET_LEVEL, "paid", idx=1),),
            access={
                "S1": AUTHENTICATED,
                **every(paid("TRACK-1", parent_item_required=False), "T1", "U1", "P1", "L1"),
            },
            warnings=(
                "Memora Subject 'S1': access level 'paid' but no required_item on it or any "
                "ancestor; treated as 'authenticated'",
            ),
        ),
        id="paid-subject-without-item-is-authenticated-so-track-needs-no-parent-item",
    ),
    # Invalid Set Access Level values: override ignored, warning, level as without it.
    *(
        pytest.param(
            Case(
                chain(subject_={"required_item": "COURSE-001"}),
                overrides=(ov(UNIT, "U1", SET_LEVEL, value, idx=1),),
                access={
                    "S1": paid("COURSE-001", parent_item_required=False),
                    **every(paid("COURSE-001", parent_item_required=True), "T1", "U1", "P1", "L1"),
                },
                warnings=(
                    f"Memora Plan Override row 1 (Set Access Level on Memora Unit 'U1'): "
                    f"invalid access level {value!r}; ignored",
                ),
            ),
            id=f"set-access-level-invalid-{label}-ignored-with-warning",
        )
        for value, label in (
            ("premium", "premium"),
            ("", "empty"),
            (None, "none"),
            ("PUBLIC", "uppercase"),
        )
    ),
    # The same action twice: the row with the higher idx wins, whatever the tuple order.
    pytest.param(
        Case(
            chain(),
            overrides=(
                ov(UNIT, "U1", SET_LEVEL, "public", idx=5),
                ov(UNIT, "U1", SET_LEVEL, "free_preview", idx=2),
            ),
            access={**every(AUTHENTICATED, "S1", "T1"), **every(PUBLIC, "U1", "P1", "L1")},
        ),
        id="last-row-wins-by-idx-when-listed-first",
    ),
    pytest.param(
        Case(
            chain(),
            overrides=(
                ov(UNIT, "U1", SET_LEVEL, "public", idx=2),
                ov(UNIT, "U1", SET_LEVEL, "free_preview", idx=5),
            ),
            access={**every(AUTHENTICATED, "S1", "T1"), **every(FREE_PREVIEW, "U1", "P1", "L1")},
        ),
        id="last-row-wins-by-idx-when-listed-last",
    ),
    pytest.param(
        Case(
            chain(),
            overrides=(
                ov(UNIT, "U1", SET_LEVEL, "premium", idx=2),
                ov(UNIT, "U1", SET_LEVEL, "public", idx=1),
            ),
            access={**every(AUTHENTICATED, "S1", "T1"), **every(PUBLIC, "U1", "P1", "L1")},
            warnings=(
                "Memora Plan Override row 2 (Set Access Level on Memora Unit 'U1'): "
                "invalid access level 'premium'; ignored",
            ),
        ),
        id="last-row-wins-an-ignored-invalid-last-row-keeps-the-earlier-valid-one",
    ),
    pytest.param(
        Case(
            chain(),
            overrides=(
                ov(UNIT, "U1", RENAME, "Late title", idx=7),
                ov(UNIT, "U1", RENAME, "Early title", idx=3),
            ),
            titles={"U1": "Late title"},
        ),
        id="last-row-wins-rename",
    ),
    pytest.param(
        Case(
            chain(unit_={"is_linear": False}),
            overrides=(
                ov(UNIT, "U1", SET_LINEAR, "no", idx=4),
                ov(UNIT, "U1", SET_LINEAR, "yes", idx=2),
            ),
            linear={"U1": False},
        ),
        id="last-row-wins-set-linear",
    ),
    # Overrides match on doctype and name together.
    pytest.param(
        Case(
            (
                subject("S1", required_item="COURSE-001"),
                track("T1", "S1"),
                unit("X", "T1"),
                unit("U1", "T1"),
                topic("X", "U1"),
                topic("P2", "X"),
            ),
            overrides=(
                ov(UNIT, "X", SET_FREE, idx=1),
                ov(TOPIC, "X", RENAME, "Renamed topic", idx=2),
            ),
            access={
                "unit:X": FREE_PREVIEW,
                "topic:P2": FREE_PREVIEW,
                "unit:U1": paid("COURSE-001", parent_item_required=True),
                "topic:X": paid("COURSE-001", parent_item_required=True),
            },
            titles={"unit:X": "X", "topic:X": "Renamed topic"},
            visible=("S1", "T1", "U1", "X", "X", "P2"),
        ),
        id="match-doctype-and-name-unit-override-leaves-same-named-topic-alone",
    ),
    pytest.param(
        Case(
            (*chain(), unit("X", "T1")),
            overrides=(ov(TOPIC, "X", HIDE, idx=1),),
            visible=("S1", "T1", "U1", "P1", "L1", "X"),
            warnings=(
                "Memora Plan Override row 1 (Hide on Memora Topic 'X'): target not found in "
                "this plan; ignored",
            ),
        ),
        id="match-doctype-hide-on-topic-does-not-hide-unit-of-that-name",
    ),
    pytest.param(
        Case(
            chain(),
            overrides=(ov("Unit", "U1", HIDE, idx=1), ov("Memora Lesson Stage", "L1", HIDE, idx=2)),
            visible=CHAIN,
            warnings=(
                "Memora Plan Override row 1 (Hide on Unit 'U1'): doctype 'Unit' cannot be "
                "overridden; ignored",
                "Memora Plan Override row 2 (Hide on Memora Lesson Stage 'L1'): doctype "
                "'Memora Lesson Stage' cannot be overridden; ignored",
            ),
        ),
        id="override-on-unknown-doctype-ignored-with-warning",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}),
            overrides=(ov(UNIT, "U1", "Lock", "x", idx=1), ov(UNIT, "U1", "hide", idx=2)),
            visible=CHAIN,
            access=every(PUBLIC, *CHAIN),
            warnings=(
                "Memora Plan Override row 1 (Lock on Memora Unit 'U1'): unknown action "
                "'Lock'; ignored",
                "Memora Plan Override row 2 (hide on Memora Unit 'U1'): unknown action "
                "'hide'; ignored",
            ),
        ),
        id="unknown-action-ignored-with-warning-actions-are-case-sensitive",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}),
            overrides=(ov(UNIT, "NOPE", SET_FREE, idx=1), ov(SUBJECT, "S9", HIDE, idx=2)),
            visible=CHAIN,
            access=every(PUBLIC, *CHAIN),
            warnings=(
                "Memora Plan Override row 1 (Set Free on Memora Unit 'NOPE'): target not "
                "found in this plan; ignored",
                "Memora Plan Override row 2 (Hide on Memora Subject 'S9'): target not found "
                "in this plan; ignored",
            ),
        ),
        id="override-on-missing-node-ignored-with-warning",
    ),
    # Exclusion.
    pytest.param(
        Case(
            (*chain(topic_={"is_published": False}), topic("P2", "U1"), lesson("L2", "P2")),
            visible=("S1", "T1", "U1", "P2", "L2"),
        ),
        id="exclude-unpublished-topic-with-its-published-lessons",
    ),
    pytest.param(
        Case(
            (*chain(subject_={"is_published": False}), subject("S2"), track("T2", "S2")),
            visible=("S2", "T2"),
        ),
        id="exclude-unpublished-subject",
    ),
    pytest.param(
        Case(
            (*chain(), unit("U2", "T1"), topic("P2", "U2")),
            overrides=(
                ov(UNIT, "U1", HIDE, idx=1),
                ov(UNIT, "U1", RENAME, "Still hidden", idx=2),
                ov(UNIT, "U1", SET_LEVEL, "public", idx=3),
            ),
            visible=("S1", "T1", "U2", "P2"),
        ),
        id="exclude-hide-removes-unit-and-subtree-whatever-else-applies",
    ),
    pytest.param(
        Case(
            (*chain(), subject("S2")),
            overrides=(ov(SUBJECT, "S1", HIDE, idx=1),),
            visible=("S2",),
        ),
        id="exclude-hide-subject",
    ),
    *(
        pytest.param(
            Case(
                (*chain(), unit(bad, "T1"), topic("P9", bad), lesson("L9", "P9")),
                visible=CHAIN,
                warnings=(f"Memora Unit {bad!r}: name cannot be a path segment; skipped",),
            ),
            id=f"exclude-name-{label}-with-subtree-and-warning",
        )
        for bad, label in (("", "empty"), (".", "dot"), ("..", "dotdot"))
    ),
    pytest.param(
        Case(
            chain(),
            plan_subjects=(PlanSubject("GONE", idx=1), PlanSubject("S1", idx=2)),
            visible=CHAIN,
            warnings=("Memora Plan Subject: subject 'GONE' not found; skipped (orphan link)",),
        ),
        id="exclude-orphan-plan-subject-row-with-warning",
    ),
    pytest.param(
        Case(
            (*chain(), unit("U9", "T-GONE"), topic("P9", "U9")),
            visible=CHAIN,
            snapshot_warnings=(
                "Memora Unit 'U9': parent Memora Track 'T-GONE' not found; skipped (orphan)",
            ),
            warnings=(
                "Memora Unit 'U9': parent Memora Track 'T-GONE' not found; skipped (orphan)",
            ),
        ),
        id="exclude-orphan-node-and-keep-the-loaders-warning",
    ),
    pytest.param(
        Case(
            (*chain(), subject("S2"), track("T2", "S2")),
            plan_subjects=(PlanSubject("S1"),),
            visible=CHAIN,
        ),
        id="exclude-subject-not-in-the-plan",
    ),
    pytest.param(
        Case(
            chain(),
            plan_subjects=(PlanSubject("S1", idx=1), PlanSubject("S1", idx=2)),
            visible=CHAIN,
            warnings=("Memora Plan Subject: subject 'S1' listed twice; kept once",),
        ),
        id="exclude-duplicate-plan-subject-row-kept-once",
    ),
    # Rename.
    pytest.param(
        Case(
            chain(),
            overrides=(
                ov(UNIT, "U1", RENAME, "Algebra", idx=1),
                ov(SUBJECT, "S1", RENAME, "Maths", idx=2),
            ),
            titles={"U1": "Algebra", "S1": "Maths", "T1": "T1", "P1": "P1"},
        ),
        id="rename-title",
    ),
    pytest.param(
        Case(
            chain(unit_={"title": "Fractions"}),
            overrides=(ov(UNIT, "U1", RENAME, "", idx=1), ov(UNIT, "U1", RENAME, None, idx=2)),
            titles={"U1": "Fractions"},
            warnings=(
                "Memora Plan Override row 1 (Rename on Memora Unit 'U1'): empty title; ignored",
                "Memora Plan Override row 2 (Rename on Memora Unit 'U1'): empty title; ignored",
            ),
        ),
        id="rename-to-empty-title-ignored-with-warning",
    ),
    # Ordering.
    pytest.param(
        Case(
            (
                subject("S1"),
                track("T1", "S1"),
                unit("A", "T1", sort_order=2, title="a"),
                unit("B", "T1", sort_order=1, title="z"),
                unit("D", "T1", sort_order=1, title="m"),
                unit("C", "T1", sort_order=1, title="m"),
                topic("P1", "C"),
                lesson("L3", "P1", title="Gamma"),
                lesson("L1", "P1", title="Beta"),
                lesson("L2", "P1", title="Alpha"),
                lesson("L0", "P1", title="Zulu", sort_order=-1),
            ),
            visible=("S1", "T1", "C", "P1", "L0", "L2", "L1", "L3", "D", "B", "A"),
        ),
        id="order-by-sort_order-then-title-then-name",
    ),
    pytest.param(
        Case(
            (
                subject("S1"),
                track("T1", "S1"),
                unit("U1", "T1", title="Alpha"),
                unit("U2", "T1", title="Beta"),
            ),
            overrides=(ov(UNIT, "U1", RENAME, "Zeta", idx=1),),
            visible=("S1", "T1", "U2", "U1"),
            titles={"U1": "Zeta"},
        ),
        id="order-by-title-after-rename",
    ),
    pytest.param(
        Case(
            (
                subject("SA", sort_order=0, title="A"),
                subject("SB", sort_order=9, title="B"),
                subject("SC", sort_order=5, title="C"),
            ),
            plan_subjects=(
                PlanSubject("SA", sort_order=2, idx=1),
                PlanSubject("SB", sort_order=1, idx=3),
                PlanSubject("SC", sort_order=1, idx=2),
            ),
            visible=("SC", "SB", "SA"),
        ),
        id="order-plan-subjects-by-row-sort_order-then-idx",
    ),
    pytest.param(
        Case(
            (
                *chain(),
                unit("", "T1", title="b"),
                unit(".", "T1", title="a"),
                unit("U2", "T1", title="c"),
                unit("U3", "T1", title="c"),
            ),
            overrides=(
                ov(UNIT, "U3", SET_LEVEL, "paid", idx=1),
                ov(UNIT, "U2", SET_LEVEL, "paid", idx=2),
            ),
            visible=(*CHAIN, "U2", "U3"),
            warnings=(
                "Memora Unit '.': name cannot be a path segment; skipped",
                "Memora Unit '': name cannot be a path segment; skipped",
                "Memora Unit 'U2': access level 'paid' but no required_item on it or any "
                "ancestor; treated as 'authenticated'",
                "Memora Unit 'U3': access level 'paid' but no required_item on it or any "
                "ancestor; treated as 'authenticated'",
            ),
        ),
        id="order-warnings-follow-display-order-not-row-order",
    ),
    # Set Linear.
    *(
        pytest.param(
            Case(
                chain(subject_={"is_linear": True}, unit_={"is_linear": not expected}),
                overrides=(ov(UNIT, "U1", SET_LINEAR, value, idx=1),),
                linear={"U1": expected, "S1": True, "T1": False},
            ),
            id=f"set-linear-{value}-is-{str(expected).lower()}",
        )
        for value, expected in (
            ("1", True),
            ("true", True),
            ("YES", True),
            ("no", False),
            ("0", False),
        )
    ),
    pytest.param(
        Case(
            chain(),
            overrides=(ov(LESSON, "L1", SET_LINEAR, "1", idx=1),),
            linear={"L1": False},
            warnings=(
                "Memora Plan Override row 1 (Set Linear on Memora Lesson 'L1'): a Memora "
                "Lesson has no is_linear; ignored",
            ),
        ),
        id="set-linear-on-lesson-ignored-with-warning",
    ),
    # is_sold_separately.
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={"required_item": "DLC-1", "is_sold_separately": True},
            ),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                # SPEC §2 example 3, verbatim: a DLC Track (sold separately, own item).
                "T1": {
                    "is_published": True,
                    "access_level": "paid",
                    "is_sold_separately": True,
                    "parent_item_required": False,
                    "required_item": "DLC-1",
                },
                **every(paid("DLC-1", parent_item_required=False), "U1", "P1", "L1"),
            },
        ),
        id="sold-spec-example-3-dlc-track",
    ),
    pytest.param(
        Case(
            chain(subject_={"is_public": True}, track_={"required_item": "DLC-1"}),
            overrides=(ov(TRACK, "T1", SET_SOLD, idx=1),),
            access={
                "S1": PUBLIC,
                "T1": paid("DLC-1", parent_item_required=False, sold=True),
                **every(paid("DLC-1", parent_item_required=False), "U1", "P1", "L1"),
            },
        ),
        id="sold-override-on-paid-track-with-own-item",
    ),
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={"is_sold_separately": True},
            ),
            overrides=(ov(TRACK, "T1", SET_SOLD, idx=1),),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("COURSE-001", parent_item_required=True), "T1", "U1"),
            },
        ),
        id="sold-flag-and-override-on-track-paid-by-inherited-item-is-false",
    ),
    pytest.param(
        Case(
            chain(track_={"required_item": "DLC-1", "is_sold_separately": True}),
            overrides=(ov(TRACK, "T1", SET_LEVEL, "authenticated", idx=1),),
            access=every(AUTHENTICATED, *CHAIN),
        ),
        id="sold-flag-on-track-that-is-not-paid-is-false",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001"}),
            overrides=(ov(UNIT, "U1", SET_SOLD, idx=1), ov(SUBJECT, "S1", SET_SOLD, idx=2)),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                "U1": paid("COURSE-001", parent_item_required=True),
            },
            warnings=(
                "Memora Plan Override row 1 (Set Sold Separately on Memora Unit 'U1'): only a "
                "Track can be sold separately; ignored",
                "Memora Plan Override row 2 (Set Sold Separately on Memora Subject 'S1'): only "
                "a Track can be sold separately; ignored",
            ),
        ),
        id="sold-override-on-non-track-ignored-with-warning",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001", "is_sold_separately": True}),
            access={"S1": paid("COURSE-001", parent_item_required=False)},
        ),
        id="sold-flag-on-paid-subject-is-false",
    ),
    # parent_item_required.
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={"required_item": "TRACK-1", "parent_item_required": True},
            ),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("TRACK-1", parent_item_required=True), "T1", "U1", "P1", "L1"),
            },
        ),
        id="pir-track-own-item-column-set-under-paid-subject-and-its-tree-inherits-it",
    ),
    pytest.param(
        Case(
            chain(
                subject_={"is_public": True},
                track_={"required_item": "TRACK-1", "parent_item_required": True},
            ),
            access={
                "S1": PUBLIC,
                **every(paid("TRACK-1", parent_item_required=False), "T1", "U1", "P1", "L1"),
            },
        ),
        id="pir-track-own-item-column-set-under-unpaid-subject-is-false",
    ),
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={"required_item": "TRACK-1", "parent_item_required": False},
            ),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("TRACK-1", parent_item_required=False), "T1", "U1", "P1", "L1"),
            },
        ),
        id="pir-track-own-item-column-clear-and-nearest-paid-ancestor-item-wins",
    ),
    pytest.param(
        Case(
            chain(subject_={"required_item": "COURSE-001", "parent_item_required": True}),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                **every(paid("COURSE-001", parent_item_required=True), "T1", "U1", "P1", "L1"),
            },
        ),
        id="pir-subject-is-false-and-items-from-the-subject-are-true",
    ),
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={"required_item": "TRACK-1", "parent_item_required": True},
            ),
            overrides=(ov(UNIT, "U1", SET_FREE, idx=1), ov(TOPIC, "P1", SET_LEVEL, "paid", idx=2)),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                "T1": paid("TRACK-1", parent_item_required=True),
                "U1": FREE_PREVIEW,
                **every(paid("TRACK-1", parent_item_required=True), "P1", "L1"),
            },
        ),
        id="pir-paid-topic-under-free-unit-inherits-the-tracks-item-and-value",
    ),
    pytest.param(
        Case(
            chain(
                subject_={"required_item": "COURSE-001"},
                track_={"required_item": "TRACK-1", "parent_item_required": True},
            ),
            overrides=(ov(TRACK, "T1", SET_FREE, idx=1), ov(UNIT, "U1", SET_LEVEL, "paid", idx=2)),
            access={
                "S1": paid("COURSE-001", parent_item_required=False),
                "T1": FREE_PREVIEW,
                **every(paid("COURSE-001", parent_item_required=True), "U1", "P1", "L1"),
            },
        ),
        id="pir-a-free-track-is-no-paid-ancestor-so-its-item-is-skipped",
    ),
]


# -- running a case -----------------------------------------------------------------------


def _snapshot(case: Case) -> Snapshot:
    plan_subjects = case.plan_subjects
    if plan_subjects is None:
        plan_subjects = tuple(
            PlanSubject(n.name, idx=i)
            for i, n in enumerate(case.nodes, start=1)
            if n.kind is NodeKind.SUBJECT
        )
    return Snapshot(
        plan=Plan("PLAN-1", "Plan 1"),
        subjects=plan_subjects,
        overrides=case.overrides,
        nodes=case.nodes,
        warnings=case.snapshot_warnings,
    )


def _find(plan: ResolvedPlan, key: str) -> ResolvedNode:
    kind, _, name = key.rpartition(":")
    found = [n for n in plan.walk() if n.name == name and (not kind or n.kind.value == kind)]
    assert len(found) == 1, f"{key!r}: expected one visible node, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("case", CASES)
def test_access_table(case: Case) -> None:
    plan = resolve(_snapshot(case))

    if case.visible is not None:
        assert tuple(n.name for n in plan.walk()) == case.visible
    for key, block in case.access.items():
        assert _find(plan, key).access.as_json() == block, key
    for key, title in case.titles.items():
        assert _find(plan, key).title == title, key
    for key, is_linear in case.linear.items():
        assert _find(plan, key).is_linear is is_linear, key
    assert plan.warnings == case.warnings
    for node in plan.walk():
        block = node.access.as_json()
        assert ("required_item" in block) is (block["access_level"] == "paid"), node.name


def test_table_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    ids = [p.id for p in CASES]
    assert len(set(ids)) == len(ids)


def test_a_stage_whose_name_cannot_be_a_path_segment_is_skipped_with_a_warning() -> None:
    """SPEC §2 excludes such names at every level of the tree, lesson stages included (a
    stage named '' was published silently until Hypothesis drew one in test_bad_values)."""
    shown = lesson("L1", "TP1")
    stages = tuple(
        Stage("L1", idx, name, f"Stage {idx}", "Text")
        for idx, name in enumerate(["S-OK", "", ".", "..", "S-LAST"], start=1)
    )
    snapshot = Snapshot(
        plan=Plan("PLAN-1", "Plan 1"),
        subjects=(PlanSubject("S1", idx=1),),
        overrides=(),
        nodes=(subject("S1"), track("T1", "S1"), unit("U1", "T1"), topic("TP1", "U1"), shown),
        stages=stages,
    )

    plan = resolve(snapshot)

    assert [s.name for s in plan.stages["L1"]] == ["S-OK", "S-LAST"]
    assert plan.warnings == tuple(
        f"Memora Lesson Stage {name!r} of lesson 'L1': name cannot be a path segment; skipped"
        for name in ("", ".", "..")
    )
