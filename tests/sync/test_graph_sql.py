"""The catalogue graph on SQLite, MariaDB and PostgreSQL, and affected plans end to end.

The catalogue: plans X (subjects A, C), Y (A) and Z (B), all published, and Q (E),
unpublished; each subject with one track → unit → topic → lesson chain and stages. Seasons,
grades and streams: X is SEA-24/G10/SCI, Y SEA-24/G11/LIT, Z SEA-25/G10/SCI. Bad rows: a
track with no subject, a lesson whose topic does not exist, a stage row and a plan subject
row that belong to another parent field.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import sqlalchemy as sa

from catalogue import CatalogueBuilder
from memora_cdn.core.events import Action, ChangeEvent
from memora_cdn.core.model import Doctype
from memora_cdn.source.graph import SqlCatalogueGraph
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateRepository
from memora_cdn.sync.dependencies import affected_plans, affected_plans_each

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

StatementCounter = Callable[[sa.Engine], AbstractContextManager[list[str]]]


def _chain(b: CatalogueBuilder, subject: str, suffix: str, stages: int = 1) -> None:
    b.subject(subject)
    b.track(f"T{suffix}", subject)
    b.unit(f"U{suffix}", f"T{suffix}")
    b.topic(f"TP{suffix}", f"U{suffix}")
    b.lesson(f"L{suffix}", f"TP{suffix}")
    for _ in range(stages):
        b.stage(f"L{suffix}")


def build(engine: sa.Engine) -> None:
    b = CatalogueBuilder(engine)
    for season in ("SEA-24", "SEA-25"):
        b.season(season)
    for grade in ("G10", "G11"):
        b.grade(grade)
    for stream in ("SCI", "LIT"):
        b.stream(stream)
    b.plan("X", subjects=["A", "C"], season="SEA-24", grade="G10", stream="SCI")
    b.plan("Y", subjects=["A"], season="SEA-24", grade="G11", stream="LIT")
    b.plan("Z", subjects=["B"], season="SEA-25", grade="G10", stream="SCI")
    b.plan("Q", subjects=["E"], is_published=False)
    b.override("X", UNIT, "UA", "Hide")
    _chain(b, "A", "A", stages=2)
    _chain(b, "B", "B")
    _chain(b, "C", "C")
    _chain(b, "E", "E")
    b.lesson("LD", "TPC")  # deleted in the end-to-end test
    b.track("TD", None)
    b.track("T-EMPTY", "")
    b.lesson("LO", "TP-GONE")
    b.stage("LA", name="LA-foreign", parenttype=TOPIC.value)
    b.plan_subject("Z", "A", name="Z-other-1", parentfield="other_subjects")
    b.insert()


@pytest.fixture
def graph(content_engine: sa.Engine) -> SqlCatalogueGraph:
    build(content_engine)
    return SqlCatalogueGraph(SqlSource(content_engine))


PARENTS: list[tuple[Doctype, str, str | None]] = [
    (TRACK, "TA", "A"),
    (UNIT, "UA", "TA"),
    (TOPIC, "TPA", "UA"),
    (LESSON, "LA", "TPA"),
    (STAGE, "LA-stages-2", "LA"),
    (PLAN_SUBJECT, "X-subjects-2", "X"),
    (PLAN_OVERRIDE, "X-overrides-1", "X"),
    # no parent
    (LESSON, "NO-SUCH-LESSON", None),
    (TRACK, "TD", None),
    (TRACK, "T-EMPTY", None),
    (STAGE, "LA-foreign", None),
    (PLAN_SUBJECT, "Z-other-1", None),
    (SUBJECT, "A", None),
    (PLAN, "X", None),
    (SEASON, "SEA-24", None),
    # a parent that does not exist is still the link's value
    (LESSON, "LO", "TP-GONE"),
]


def test_parent_is_the_rows_link_now(graph: SqlCatalogueGraph) -> None:
    found = [(doctype, name, graph.parent(doctype, name)) for doctype, name, _ in PARENTS]
    assert found == PARENTS


def test_plans_with_subject_counts_unpublished_plans_and_only_subject_rows(
    graph: SqlCatalogueGraph,
) -> None:
    assert graph.plans_with_subject("A") == {"X", "Y"}
    assert graph.plans_with_subject("B") == {"Z"}
    assert graph.plans_with_subject("E") == {"Q"}
    assert graph.plans_with_subject("NO-SUCH-SUBJECT") == set()


def test_plans_referencing_follow_season_grade_and_stream(graph: SqlCatalogueGraph) -> None:
    assert graph.plans_referencing(SEASON, "SEA-24") == {"X", "Y"}
    assert graph.plans_referencing(SEASON, "SEA-25") == {"Z"}
    assert graph.plans_referencing(GRADE, "G10") == {"X", "Z"}
    assert graph.plans_referencing(STREAM, "LIT") == {"Y"}
    assert graph.plans_referencing(STREAM, "NO-SUCH-STREAM") == set()
    assert graph.plans_referencing(LESSON, "LA") == set()


def test_document_is_the_row_now(graph: SqlCatalogueGraph) -> None:
    lesson = graph.document(LESSON, "LA")
    assert lesson is not None
    assert (lesson["name"], lesson["title"], lesson["parent_topic"]) == ("LA", "LA", "TPA")
    assert lesson["is_published"] == 1
    stage = graph.document(STAGE, "LA-stages-1")
    assert stage is not None
    assert (stage["parent"], stage["parenttype"], stage["idx"]) == ("LA", LESSON.value, 1)
    assert graph.document(LESSON, "NO-SUCH-LESSON") is None


def test_each_answer_is_one_query(
    graph: SqlCatalogueGraph, statement_counter: StatementCounter
) -> None:
    graph.source.tables()  # reflection happens once per source, before any answer
    calls: list[Callable[[], object]] = [
        lambda: graph.parent(STAGE, "LA-stages-1"),
        lambda: graph.parent(LESSON, "LA"),
        lambda: graph.plans_with_subject("A"),
        lambda: graph.plans_referencing(GRADE, "G10"),
        lambda: graph.document(UNIT, "UA"),
    ]
    for call in calls:
        with statement_counter(graph.source.engine) as statements:
            call()
        assert len(statements) == 1, statements


def test_a_site_without_the_optional_tables(content_engine: sa.Engine) -> None:
    build(content_engine)
    for doctype in (SEASON, PLAN_OVERRIDE):
        sa.Table(doctype.table, sa.MetaData(), autoload_with=content_engine).drop(content_engine)
    graph = SqlCatalogueGraph(SqlSource(content_engine))
    assert graph.plans_referencing(SEASON, "SEA-24") == {"X", "Y"}
    assert graph.parent(PLAN_OVERRIDE, "X-overrides-1") is None
    assert graph.document(SEASON, "SEA-24") is None


# -- end to end: the graph, a real member index, affected_plans ---------------------------


def _table(engine: sa.Engine, doctype: Doctype) -> sa.Table:
    return sa.Table(doctype.table, sa.MetaData(), autoload_with=engine)


def _update(engine: sa.Engine, doctype: Doctype, name: str, **values: object) -> None:
    table = _table(engine, doctype)
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.name == name).values(**values))


def _delete(engine: sa.Engine, doctype: Doctype, name: str) -> None:
    table = _table(engine, doctype)
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.name == name))


def _members(subject: str, suffix: str, stages: int = 1) -> list[tuple[str, str]]:
    rows = [
        (SUBJECT, subject),
        (TRACK, f"T{suffix}"),
        (UNIT, f"U{suffix}"),
        (TOPIC, f"TP{suffix}"),
        (LESSON, f"L{suffix}"),
    ]
    rows += [(STAGE, f"L{suffix}-stages-{n}") for n in range(1, stages + 1)]
    return [(doctype.value, name) for doctype, name in rows]


@pytest.fixture
def wired(content_engine: sa.Engine) -> tuple[SqlCatalogueGraph, StateRepository]:
    """The catalogue, and a state repository whose member index is each plan's last publish."""
    build(content_engine)
    state = StateRepository(content_engine)
    state.create_schema()
    state.replace_members("X", [*_members("A", "A", 2), *_members("C", "C"), (LESSON.value, "LD")])
    state.replace_members("Y", _members("A", "A", 2))
    state.replace_members("Z", _members("B", "B"))
    return SqlCatalogueGraph(SqlSource(content_engine)), state


def test_a_lesson_edit_reaches_the_plans_sharing_its_subject(
    wired: tuple[SqlCatalogueGraph, StateRepository],
) -> None:
    graph, state = wired
    _update(graph.source.engine, LESSON, "LA", title="Fractions")
    fields = graph.document(LESSON, "LA")
    assert fields is not None
    event = ChangeEvent(LESSON, "LA", Action.UPDATE, fields, {**fields, "title": "LA"})
    assert affected_plans(event, graph, state) == {"X", "Y"}


def test_a_stage_edit_reaches_the_plans_of_its_lesson(
    wired: tuple[SqlCatalogueGraph, StateRepository],
) -> None:
    graph, state = wired
    _update(graph.source.engine, STAGE, "LC-stages-1", title="Warm-up")
    fields = graph.document(STAGE, "LC-stages-1")
    assert fields is not None
    event = ChangeEvent(STAGE, "LC-stages-1", Action.UPDATE, fields)
    assert affected_plans(event, graph, state) == {"X"}


def test_a_unit_moved_between_subjects_reaches_the_plans_of_both(
    wired: tuple[SqlCatalogueGraph, StateRepository],
) -> None:
    graph, state = wired
    before = graph.document(UNIT, "UC")
    _update(graph.source.engine, UNIT, "UC", parent_track="TB")
    fields = graph.document(UNIT, "UC")
    assert before is not None
    assert fields is not None
    event = ChangeEvent(UNIT, "UC", Action.UPDATE, fields, before)
    assert affected_plans(event, graph, state) == {"X", "Z"}


def test_a_deleted_lesson_reaches_the_plans_that_showed_it(
    wired: tuple[SqlCatalogueGraph, StateRepository],
) -> None:
    graph, state = wired
    _delete(graph.source.engine, LESSON, "LD")
    assert graph.document(LESSON, "LD") is None
    event = ChangeEvent(LESSON, "LD", Action.DELETE)
    assert affected_plans(event, graph, state) == {"X"}


def test_bulk_answers_are_the_single_answers_in_one_query_per_kind(
    graph: SqlCatalogueGraph, statement_counter: StatementCounter
) -> None:
    graph.source.tables()
    by_doctype: dict[Doctype, list[str]] = {}
    for doctype, name, _ in PARENTS:
        by_doctype.setdefault(doctype, []).append(name)
    for doctype, names in by_doctype.items():
        assert graph.parents(doctype, names) == {n: graph.parent(doctype, n) for n in names}
    subjects = ["A", "B", "E"]
    with statement_counter(graph.source.engine) as statements:
        found = graph.plans_with_subjects(subjects)
    assert found == {s: graph.plans_with_subject(s) for s in subjects}
    assert len(statements) == 1, statements
    with statement_counter(graph.source.engine) as statements:
        parents = graph.parents(LESSON, ["LA", "LB", "LC"])
    assert (parents, len(statements)) == ({"LA": "TPA", "LB": "TPB", "LC": "TPC"}, 1)


def test_events_resolved_together_reach_the_plans_each_reaches_alone(
    wired: tuple[SqlCatalogueGraph, StateRepository], statement_counter: StatementCounter
) -> None:
    graph, state = wired
    events = [
        ChangeEvent(LESSON, "LA", Action.UPDATE, {"parent_topic": "TPA"}),
        ChangeEvent(STAGE, "LA-stages-1", Action.UPDATE, {}),
        ChangeEvent(LESSON, "LB", Action.UPDATE, {}),
        ChangeEvent(UNIT, "UC", Action.UPDATE, {"parent_track": "TB"}, {"parent_track": "TC"}),
        ChangeEvent(LESSON, "LD", Action.DELETE, {}),
        ChangeEvent(GRADE, "G11", Action.UPDATE, {}),
        ChangeEvent(LESSON, "LO", Action.UPDATE, {}),
    ]
    with statement_counter(graph.source.engine) as one_by_one:
        alone = [affected_plans(event, graph, state) for event in events]
    assert alone[0] == {"X", "Y"}
    with statement_counter(graph.source.engine) as statements:
        together = affected_plans_each(events, graph, state)
    assert together == alone
    # a level of the walks at a time: one query per kind of question and level
    assert len(statements) < len(one_by_one) / 2, (len(statements), len(one_by_one))
