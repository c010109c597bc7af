"""`memora-cdn scan` (SPEC §5): change events polled from the source database, on every backend.

Each test runs on SQLite, MariaDB and PostgreSQL in an empty database of its own, with the
content tables and the state tables side by side. Every scan and commit runs under a guard
that fails any INSERT, UPDATE or DELETE against a `tab…` table: the source is only read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from catalogue import CatalogueBuilder, build_catalogue, count_statements
from memora_cdn.core.events import Action, ChangeEvent
from memora_cdn.core.model import Doctype
from memora_cdn.errors import SourceSchemaError
from memora_cdn.source.schema import DELETED_DOCUMENT, content_metadata
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateRepository
from memora_cdn.state.scan_state import ScanMark, ScanMarks
from memora_cdn.state.schema import metadata as state_metadata
from memora_cdn.sync.scan import DEFAULT_OVERLAP, Scanner, ScanResult

T0 = datetime(2024, 9, 1, 8, 0, 0)
"""When `CatalogueBuilder` says every row was created and modified."""
NOW = datetime(2024, 9, 2, 12, 0, 0)

LESSON_TABLE = Doctype.LESSON.table

Key = tuple[Doctype, str, Action]


# -- helpers ------------------------------------------------------------------------------


def clock() -> float:
    return NOW.replace(tzinfo=UTC).timestamp()


_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|TRUNCATE|ALTER|DROP|CREATE)\b", re.I)
_SOURCE_TABLE = re.compile(r"[`\"\[]tab")


@contextmanager
def source_read_only(engine: sa.Engine) -> Iterator[list[str]]:
    """Fail every statement that would write a `tab…` table; collect them too."""
    writes: list[str] = []

    def check(
        conn: sa.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if _WRITE.match(statement) and _SOURCE_TABLE.search(statement):
            writes.append(statement)
            raise AssertionError(f"the scanner wrote to the source: {statement}")

    sa.event.listen(engine, "before_cursor_execute", check)
    try:
        yield writes
    finally:
        sa.event.remove(engine, "before_cursor_execute", check)
    assert writes == []


def make_scanner(engine: sa.Engine, **options: Any) -> Scanner:
    return Scanner(SqlSource(engine), ScanMarks(engine), clock, **options)


def scan(scanner: Scanner) -> ScanResult:
    with source_read_only(scanner.source.engine):
        return scanner.scan()


def scan_and_commit(scanner: Scanner) -> ScanResult:
    with source_read_only(scanner.source.engine):
        result = scanner.scan()
        scanner.commit(result)
    return result


def keys(events: Sequence[ChangeEvent]) -> list[Key]:
    return sorted((e.doctype, e.name, e.action) for e in events)


def updated(*pairs: tuple[Doctype, str]) -> list[Key]:
    return sorted((doctype, name, Action.UPDATE) for doctype, name in pairs)


def removed(*pairs: tuple[Doctype, str]) -> list[Key]:
    return sorted((doctype, name, Action.DELETE) for doctype, name in pairs)


def _table(doctype: Doctype | str) -> sa.Table:
    name = doctype.table if isinstance(doctype, Doctype) else doctype
    return content_metadata().tables[name]


def touch(
    engine: sa.Engine, doctype: Doctype, name: str, modified: datetime, **values: Any
) -> None:
    """An edit, as Frappe saves it: new values and a new `modified`."""
    table = _table(doctype)
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.name == name).values(modified=modified, **values))


def remove(engine: sa.Engine, doctype: Doctype, *names: str) -> None:
    """A delete straight in the database: no trace left anywhere."""
    table = _table(doctype)
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.name.in_(names)))


def remove_stages(engine: sa.Engine, lesson: str) -> None:
    table = _table(Doctype.LESSON_STAGE)
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.parent == lesson))


def stage_rows(engine: sa.Engine, lesson: str) -> list[dict[str, Any]]:
    table = _table(Doctype.LESSON_STAGE)
    query = sa.select(table.c.name, table.c.parent, table.c.title).where(table.c.parent == lesson)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query.order_by(table.c.name)).mappings()]


def deleted_document(
    engine: sa.Engine,
    name: str,
    doctype: str,
    deleted_name: str,
    data: dict[str, Any] | str | None,
    *,
    creation: datetime,
    restored: int = 0,
) -> None:
    """A `tabDeleted Document` row, as Frappe writes one when a document is deleted."""
    text = data if data is None or isinstance(data, str) else json.dumps(data)
    with engine.begin() as conn:
        conn.execute(
            _table(DELETED_DOCUMENT)
            .insert()
            .values(
                name=name,
                creation=creation,
                modified=creation,
                deleted_doctype=doctype,
                deleted_name=deleted_name,
                data=text,
                restored=restored,
            )
        )


def small_catalogue(engine: sa.Engine) -> CatalogueBuilder:
    b = CatalogueBuilder(engine)
    b.season("2024-25")
    b.plan("P1", season="2024-25", subjects=["S1"])
    b.override("P1", Doctype.UNIT, "U1", "Rename", "Renamed")
    b.subject("S1")
    b.track("T1", "S1")
    b.unit("U1", "T1")
    b.topic("TP1", "U1")
    b.lesson("L1", "TP1", title="Lesson one")
    b.stage("L1", title="Intro")
    b.stage("L1", title="Quiz", type="Question")
    b.lesson("L2", "TP1")
    b.stage("L2", title="Only")
    b.insert()
    return b


ALL_ROWS = updated(
    (Doctype.SEASON, "2024-25"),
    (Doctype.PLAN, "P1"),
    (Doctype.PLAN_SUBJECT, "P1-subjects-1"),
    (Doctype.PLAN_OVERRIDE, "P1-overrides-1"),
    (Doctype.SUBJECT, "S1"),
    (Doctype.TRACK, "T1"),
    (Doctype.UNIT, "U1"),
    (Doctype.TOPIC, "TP1"),
    (Doctype.LESSON, "L1"),
    (Doctype.LESSON_STAGE, "L1-stages-1"),
    (Doctype.LESSON_STAGE, "L1-stages-2"),
    (Doctype.LESSON, "L2"),
    (Doctype.LESSON_STAGE, "L2-stages-1"),
)

PUBLISHED = [
    (Doctype.SUBJECT.value, "S1"),
    (Doctype.TRACK.value, "T1"),
    (Doctype.UNIT.value, "U1"),
    (Doctype.TOPIC.value, "TP1"),
    (Doctype.LESSON.value, "L1"),
    (Doctype.LESSON_STAGE.value, "L1-stages-1"),
    (Doctype.LESSON_STAGE.value, "L1-stages-2"),
    (Doctype.LESSON.value, "L2"),
    (Doctype.LESSON_STAGE.value, "L2-stages-1"),
]


@pytest.fixture
def source(content_engine: sa.Engine) -> sa.Engine:
    """Content and state tables in one database, holding the small catalogue."""
    StateRepository(content_engine).create_schema()
    small_catalogue(content_engine)
    return content_engine


@pytest.fixture
def scanner(source: sa.Engine) -> Scanner:
    return make_scanner(source)


@pytest.fixture
def published(source: sa.Engine) -> StateRepository:
    """P1's last publish showed the whole small catalogue."""
    state = StateRepository(source)
    state.replace_members("P1", PUBLISHED)
    return state


# -- modified rows ------------------------------------------------------------------------


def test_the_first_scan_reports_every_row_with_its_fields(scanner: Scanner) -> None:
    result = scan(scanner)

    assert keys(result.events) == ALL_ROWS
    by_name = {e.name: e for e in result.events}
    lesson = by_name["L1"]
    assert lesson.before == {}
    assert {k: lesson.fields[k] for k in ("name", "title", "parent_topic", "modified")} == {
        "name": "L1",
        "title": "Lesson one",
        "parent_topic": "TP1",
        "modified": "2024-09-01 08:00:00.000000",
    }
    stage = by_name["L1-stages-2"]
    assert stage.doctype is Doctype.LESSON_STAGE
    assert {k: stage.fields[k] for k in ("parent", "parentfield", "parenttype", "type")} == {
        "parent": "L1",
        "parentfield": "stages",
        "parenttype": "Memora Lesson",
        "type": "Question",
    }
    assert isinstance(stage.fields["weight"], float)
    assert result.counts[LESSON_TABLE] == 2
    assert result.counts[Doctype.LESSON_STAGE.table] == 3
    assert result.counts[DELETED_DOCUMENT] == 0
    assert result.watermarks[LESSON_TABLE] == T0
    assert result.warnings == ()


def test_a_second_scan_with_no_change_reports_nothing(scanner: Scanner) -> None:
    scan_and_commit(scanner)

    again = scan_and_commit(scanner)

    assert again.events == ()
    assert again.marks == ()
    assert set(again.counts.values()) == {0}


def test_an_update_is_reported_once_with_its_new_fields(
    source: sa.Engine, scanner: Scanner
) -> None:
    scan_and_commit(scanner)
    touch(source, Doctype.LESSON, "L1", T0 + timedelta(hours=1), title="Lesson 1, revised")
    touch(source, Doctype.LESSON_STAGE, "L2-stages-1", T0 + timedelta(hours=1))

    result = scan_and_commit(scanner)

    assert keys(result.events) == updated(
        (Doctype.LESSON, "L1"), (Doctype.LESSON_STAGE, "L2-stages-1")
    )
    lesson = next(e for e in result.events if e.name == "L1")
    assert lesson.fields["title"] == "Lesson 1, revised"
    assert result.watermarks[LESSON_TABLE] == T0 + timedelta(hours=1)
    assert scan_and_commit(scanner).events == ()


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param(T0 + timedelta(hours=1), id="whole-second"),
        pytest.param(T0 + timedelta(hours=1, microseconds=123456), id="microseconds"),
    ],
)
def test_rows_sharing_the_watermark_timestamp_are_reported_exactly_once_each(
    source: sa.Engine, scanner: Scanner, stamp: datetime
) -> None:
    scan_and_commit(scanner)
    touch(source, Doctype.LESSON, "L1", stamp)
    first = scan_and_commit(scanner)
    assert first.watermarks[LESSON_TABLE] == stamp

    # Committed later with the very same timestamp (a concurrent save in the same instant).
    touch(source, Doctype.LESSON, "L2", stamp)
    second = scan_and_commit(scanner)
    third = scan_and_commit(scanner)

    assert keys(first.events) == updated((Doctype.LESSON, "L1"))
    assert keys(second.events) == updated((Doctype.LESSON, "L2"))
    assert third.events == ()


def test_a_row_committed_late_inside_the_overlap_is_still_reported_once(
    source: sa.Engine, scanner: Scanner
) -> None:
    scan_and_commit(scanner)
    touch(source, Doctype.LESSON, "L1", T0 + timedelta(hours=1))
    scan_and_commit(scanner)

    # A long request saved L2 two minutes before L1's save and committed after the scan.
    touch(source, Doctype.LESSON, "L2", T0 + timedelta(hours=1, minutes=-2))
    late = scan_and_commit(scanner)

    assert keys(late.events) == updated((Doctype.LESSON, "L2"))
    assert late.watermarks[LESSON_TABLE] == T0 + timedelta(hours=1)
    assert scan_and_commit(scanner).events == ()


def test_a_row_committed_later_than_the_overlap_behind_the_newest_edit_is_missed(
    source: sa.Engine, scanner: Scanner
) -> None:
    scan_and_commit(scanner)
    touch(source, Doctype.LESSON, "L1", T0 + timedelta(hours=1))
    scan_and_commit(scanner)

    touch(source, Doctype.LESSON, "L2", T0 + timedelta(hours=1) - DEFAULT_OVERLAP * 2)

    assert scan_and_commit(scanner).events == ()


def test_rows_without_a_modified_timestamp_are_reported_once_each(
    source: sa.Engine, scanner: Scanner
) -> None:
    b = CatalogueBuilder(source)
    b.lesson("L-undated", "TP1", modified=None)
    b.insert()
    first = scan_and_commit(scanner)
    assert (Doctype.LESSON, "L-undated", Action.UPDATE) in keys(first.events)

    b.lesson("L-undated-2", "TP1", modified=None)
    b.insert()
    second = scan_and_commit(scanner)
    third = scan_and_commit(scanner)

    assert keys(second.events) == updated((Doctype.LESSON, "L-undated-2"))
    assert third.events == ()


# -- Deleted Document ---------------------------------------------------------------------


def test_a_deleted_document_becomes_a_delete_event_with_its_data_and_child_rows(
    source: sa.Engine, scanner: Scanner, published: StateRepository
) -> None:
    scan_and_commit(scanner)
    stages = [
        {**row, "doctype": "Memora Lesson Stage", "parenttype": "Memora Lesson"}
        for row in stage_rows(source, "L1")
    ]
    data = {
        "doctype": "Memora Lesson",
        "name": "L1",
        "title": "Lesson one",
        "parent_topic": "TP1",
        "stages": stages,
    }
    remove_stages(source, "L1")
    remove(source, Doctype.LESSON, "L1")
    deleted_document(source, "DD-1", "Memora Lesson", "L1", data, creation=T0 + timedelta(hours=2))

    result = scan_and_commit(scanner)

    assert keys(result.events) == removed(
        (Doctype.LESSON, "L1"),
        (Doctype.LESSON_STAGE, "L1-stages-1"),
        (Doctype.LESSON_STAGE, "L1-stages-2"),
    )  # once each: the member check does not report them again
    by_name = {e.name: e for e in result.events}
    assert by_name["L1"].before == data
    assert by_name["L1"].fields == {}
    assert by_name["L1-stages-2"].before == stages[1]
    assert result.counts[DELETED_DOCUMENT] == 3
    assert result.watermarks[DELETED_DOCUMENT] == T0 + timedelta(hours=2)
    assert scan_and_commit(scanner).events == ()


def test_a_deleted_document_with_invalid_data_is_a_delete_with_a_warning(
    source: sa.Engine, scanner: Scanner
) -> None:
    scan_and_commit(scanner)
    remove(source, Doctype.LESSON, "L2")
    deleted_document(
        source, "DD-2", "Memora Lesson", "L2", "{not json", creation=T0 + timedelta(hours=2)
    )

    result = scan_and_commit(scanner)

    assert result.events == (ChangeEvent(Doctype.LESSON, "L2", Action.DELETE),)
    assert result.warnings == (
        "tabDeleted Document 'DD-2': the data of Memora Lesson 'L2' is not a JSON object; "
        "deleted without its fields",
    )


def test_restored_and_unmonitored_deleted_documents_are_ignored(
    source: sa.Engine, scanner: Scanner
) -> None:
    scan_and_commit(scanner)
    later = T0 + timedelta(hours=2)
    deleted_document(
        source, "DD-3", "Memora Lesson", "L1", {"name": "L1"}, creation=later, restored=1
    )
    deleted_document(source, "DD-4", "ToDo", "TD-1", {"name": "TD-1"}, creation=later)

    assert scan_and_commit(scanner).events == ()


# -- deletes with no trace ----------------------------------------------------------------


def test_a_published_row_deleted_directly_is_reported_once(
    source: sa.Engine, scanner: Scanner, published: StateRepository
) -> None:
    scan_and_commit(scanner)
    remove_stages(source, "L2")
    remove(source, Doctype.LESSON, "L2")

    result = scan_and_commit(scanner)

    assert keys(result.events) == removed(
        (Doctype.LESSON, "L2"), (Doctype.LESSON_STAGE, "L2-stages-1")
    )
    assert all(e.fields == {} and e.before == {} for e in result.events)
    assert result.counts[LESSON_TABLE] == 1
    assert scan_and_commit(scanner).events == ()


def test_a_row_deleted_directly_again_after_coming_back_is_reported_again(
    source: sa.Engine, scanner: Scanner, published: StateRepository
) -> None:
    scan_and_commit(scanner)
    remove(source, Doctype.LESSON, "L2")
    scan_and_commit(scanner)
    b = CatalogueBuilder(source, now=T0 + timedelta(hours=1))
    b.lesson("L2", "TP1")
    b.insert()
    back = scan_and_commit(scanner)

    remove(source, Doctype.LESSON, "L2")
    gone_again = scan_and_commit(scanner)

    assert keys(back.events) == updated((Doctype.LESSON, "L2"))
    assert keys(gone_again.events) == removed((Doctype.LESSON, "L2"))


def test_a_published_plan_deleted_directly_is_reported(
    source: sa.Engine, scanner: Scanner, published: StateRepository
) -> None:
    scan_and_commit(scanner)
    remove(source, Doctype.PLAN_SUBJECT, "P1-subjects-1")
    remove(source, Doctype.PLAN, "P1")

    result = scan_and_commit(scanner)

    assert keys(result.events) == removed((Doctype.PLAN, "P1"))


# -- commit -------------------------------------------------------------------------------


def test_watermarks_advance_only_when_the_result_is_committed(
    source: sa.Engine, scanner: Scanner
) -> None:
    marks = ScanMarks(source)
    first = scan(scanner)
    assert marks.marks() == {}
    assert keys(scan(scanner).events) == keys(first.events)

    def fail(events: tuple[ChangeEvent, ...]) -> None:
        raise ConnectionError("queue down")

    with pytest.raises(ConnectionError), source_read_only(source):
        scanner.run(fail)
    assert marks.marks() == {}

    delivered: list[tuple[ChangeEvent, ...]] = []
    with source_read_only(source):
        scanner.run(delivered.append)

    assert keys(delivered[0]) == ALL_ROWS
    assert marks.marks()[LESSON_TABLE].watermark == T0
    assert scan(scanner).events == ()


def test_scan_state_round_trips_exact_timestamps(source: sa.Engine) -> None:
    marks = ScanMarks(source)
    at = datetime(2024, 9, 1, 8, 0, 0, 123456)
    mark = ScanMark(
        "tabMemora Lesson",
        at,
        {"L1": at, "L0": at - timedelta(seconds=1, microseconds=5)},
        frozenset({"L-undated"}),
        frozenset({"L9"}),
    )
    marks.save([mark, ScanMark(DELETED_DOCUMENT)], NOW)
    assert marks.marks() == {"tabMemora Lesson": mark, DELETED_DOCUMENT: ScanMark(DELETED_DOCUMENT)}

    moved = ScanMark("tabMemora Lesson", at + timedelta(microseconds=1), {"L2": at})
    marks.save([moved], NOW)

    assert marks.mark("tabMemora Lesson") == moved
    assert marks.mark("tabMemora Unit") is None


def test_member_names_are_the_distinct_published_names_of_a_doctype(
    source: sa.Engine, published: StateRepository
) -> None:
    published.replace_members("P2", [(Doctype.LESSON.value, "L1")])
    marks = ScanMarks(source)

    assert marks.member_names(Doctype.LESSON.value) == {"L1", "L2"}
    assert marks.member_names(Doctype.PLAN.value) == {"P1", "P2"}
    assert marks.members()[Doctype.LESSON.value] == {"L1", "L2"}
    assert marks.members()[Doctype.PLAN.value] == {"P1", "P2"}


# -- the tables ---------------------------------------------------------------------------

OPTIONAL = (
    Doctype.SEASON.table,
    Doctype.GRADE.table,
    Doctype.STREAM.table,
    Doctype.PLAN_OVERRIDE.table,
    DELETED_DOCUMENT,
)


def test_missing_optional_tables_are_skipped(engine: sa.Engine) -> None:
    content = content_metadata()
    content.create_all(engine, tables=[t for t in content.sorted_tables if t.name not in OPTIONAL])
    StateRepository(engine).create_schema()
    b = CatalogueBuilder(engine)
    b.plan("P1", subjects=["S1"])
    b.subject("S1")
    b.insert()

    result = scan_and_commit(make_scanner(engine))

    assert keys(result.events) == updated(
        (Doctype.PLAN, "P1"), (Doctype.PLAN_SUBJECT, "P1-subjects-1"), (Doctype.SUBJECT, "S1")
    )
    assert not set(result.counts) & set(OPTIONAL)


def test_a_missing_required_table_is_a_source_schema_error(content_engine: sa.Engine) -> None:
    StateRepository(content_engine).create_schema()
    _table(Doctype.LESSON).drop(content_engine)

    with pytest.raises(SourceSchemaError) as raised:
        make_scanner(content_engine).scan()

    assert raised.value.table == LESSON_TABLE
    assert raised.value.column is None


def test_a_table_without_modified_is_a_source_schema_error(engine: sa.Engine) -> None:
    content = content_metadata()
    content.create_all(
        engine, tables=[t for t in content.sorted_tables if t.name != Doctype.SEASON.table]
    )
    sa.Table(
        Doctype.SEASON.table,
        sa.MetaData(),
        sa.Column("name", sa.String(140), primary_key=True),
        sa.Column("title", sa.String(140)),
        sa.Column("idx", sa.Integer()),
    ).create(engine)
    StateRepository(engine).create_schema()

    with pytest.raises(SourceSchemaError) as raised:
        make_scanner(engine).scan()

    assert (raised.value.table, raised.value.column) == (Doctype.SEASON.table, "modified")


def test_the_read_only_guard_catches_writes_to_the_source(source: sa.Engine) -> None:
    with (
        pytest.raises(AssertionError, match="wrote to the source"),
        source_read_only(source),
    ):
        touch(source, Doctype.LESSON, "L1", NOW)


# -- cost ---------------------------------------------------------------------------------


def _publish_everything(engine: sa.Engine) -> None:
    """Every row of the content tree as a member of the plan its name starts with."""
    per_plan: dict[str, list[tuple[str, str]]] = {}
    doctypes = (
        Doctype.SUBJECT,
        Doctype.TRACK,
        Doctype.UNIT,
        Doctype.TOPIC,
        Doctype.LESSON,
        Doctype.LESSON_STAGE,
    )
    with engine.connect() as conn:
        for doctype in doctypes:
            for row in conn.execute(sa.select(_table(doctype).c.name)):
                name = str(row[0])
                per_plan.setdefault(name.split("-")[0], []).append((doctype.value, name))
    state = StateRepository(engine)
    for plan, members in per_plan.items():
        state.replace_members(plan, members)


def _scenario(engine: sa.Engine, prefix: str) -> tuple[list[int], list[ScanResult]]:
    """Statements of a first scan, a scan after edits and deletes, and an idle scan."""
    state_metadata.drop_all(engine)
    StateRepository(engine).create_schema()
    _publish_everything(engine)
    scanner = make_scanner(engine)
    scanner.feeds()  # schema discovery: once per scanner, not per scan
    counts: list[int] = []
    results: list[ScanResult] = []

    def measured(before: Callable[[], None] = lambda: None) -> None:
        before()
        with count_statements(engine) as statements:
            results.append(scan(scanner))
        counts.append(len(statements))
        scanner.commit(results[-1])

    lesson = f"{prefix}P1-S1-T1-U1-TP1-L"

    def edit() -> None:
        touch(engine, Doctype.LESSON, f"{lesson}1", T0 + timedelta(hours=1), title="Edited")
        remove_stages(engine, f"{lesson}2")
        remove(engine, Doctype.LESSON, f"{lesson}2")
        deleted_document(
            engine,
            f"DD-{prefix}",
            "Memora Lesson",
            f"{lesson}2",
            {"name": f"{lesson}2", "stages": [{"name": f"{lesson}2-stages-1"}]},
            creation=T0 + timedelta(hours=1),
        )
        remove_stages(engine, f"{lesson}3")
        remove(engine, Doctype.LESSON, f"{lesson}3")

    measured()
    measured(edit)
    measured()
    return counts, results


@pytest.mark.slow
def test_statements_per_scan_are_bounded_and_independent_of_the_catalogue_size(
    content_engine: sa.Engine,
) -> None:
    build_catalogue(content_engine, prefix="a")
    small, small_results = _scenario(content_engine, "a")
    build_catalogue(content_engine, scale=10, prefix="b")
    large, large_results = _scenario(content_engine, "b")

    feeds = len(make_scanner(content_engine).feeds())
    member_doctypes = 7  # the six levels of the content tree, and the plans
    assert small == large
    assert max(small) <= 2 + 2 * feeds + member_doctypes
    assert len(large_results[0].events) > 10 * len(small_results[0].events)
    lesson = "bP1-S1-T1-U1-TP1-L"
    assert keys(large_results[1].events) == sorted(
        updated((Doctype.LESSON, f"{lesson}1"))
        + removed(
            (Doctype.LESSON, f"{lesson}2"),
            (Doctype.LESSON, f"{lesson}3"),
            (Doctype.LESSON_STAGE, f"{lesson}2-stages-1"),
            (Doctype.LESSON_STAGE, f"{lesson}2-stages-2"),
            (Doctype.LESSON_STAGE, f"{lesson}3-stages-1"),
            (Doctype.LESSON_STAGE, f"{lesson}3-stages-2"),
        )
    )
    assert large_results[2].events == ()
