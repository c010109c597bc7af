"""The SQL source (SPEC §1): a plan's snapshot from the Frappe-layout tables, on every backend.

Each test runs on SQLite, MariaDB and PostgreSQL (`engine` is parametrized), in an empty
database of its own. Drifted sites are built from the test's own `Table` definitions.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import fields

import pytest
import sqlalchemy as sa

from catalogue import CatalogueBuilder, build_catalogue, count_statements, create_content_schema
from memora_cdn.core.model import (
    Doctype,
    Node,
    NodeKind,
    Orphan,
    Override,
    Plan,
    PlanSubject,
    Snapshot,
    Stage,
)
from memora_cdn.errors import SourceSchemaError
from memora_cdn.source.schema import content_metadata
from memora_cdn.source.sql import SqlSource

STATEMENT_BUDGET = 12
SCALE = 20

STANDARD_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx")
CHILD_COLUMNS = ("parent", "parentfield", "parenttype")

# SPEC §1, written out independently of `memora_cdn.source.schema`.
SPEC_TABLES: dict[str, tuple[bool, tuple[str, ...]]] = {
    "tabMemora Academic Plan": (False, ("title", "season", "grade", "stream", "is_published")),
    "tabMemora Plan Subject": (True, ("subject", "sort_order")),
    "tabMemora Plan Override": (
        True,
        ("target_doctype", "target_name", "action", "override_value"),
    ),
    "tabMemora Subject": (
        False,
        (
            "title",
            "description",
            "image",
            "color_code",
            "sort_order",
            "is_published",
            "is_free_preview",
            "is_public",
            "required_item",
            "is_linear",
        ),
    ),
    "tabMemora Track": (
        False,
        (
            "title",
            "description",
            "image",
            "sort_order",
            "parent_subject",
            "is_published",
            "is_free_preview",
            "is_sold_separately",
            "required_item",
            "parent_item_required",
            "is_linear",
        ),
    ),
    "tabMemora Unit": (
        False,
        (
            "title",
            "description",
            "image",
            "badge_image",
            "sort_order",
            "parent_track",
            "is_published",
            "is_free_preview",
            "is_linear",
        ),
    ),
    "tabMemora Topic": (
        False,
        (
            "title",
            "description",
            "image",
            "sort_order",
            "parent_unit",
            "is_published",
            "is_free_preview",
            "is_linear",
        ),
    ),
    "tabMemora Lesson": (
        False,
        (
            "title",
            "description",
            "image",
            "sort_order",
            "parent_topic",
            "is_published",
            "is_free_preview",
        ),
    ),
    "tabMemora Lesson Stage": (
        True,
        ("title", "type", "weight", "target_time", "is_skippable", "config"),
    ),
    "tabMemora Season": (False, ("title",)),
    "tabMemora Grade": (False, ("title",)),
    "tabMemora Stream": (False, ("title",)),
    "tabDeleted Document": (False, ("deleted_doctype", "deleted_name", "data", "restored")),
}

REFLECTION_MARKERS = ("information_schema", "pg_catalog", "pragma", "sqlite_master", "show ")


# -- helpers ------------------------------------------------------------------------------


def drifted_schema(
    engine: sa.Engine,
    *,
    drop_columns: Mapping[Doctype, Iterable[str]] = {},
    extra_columns: Mapping[Doctype, Iterable[sa.Column[object]]] = {},
    without_tables: Iterable[Doctype] = (),
) -> None:
    """Create the content tables as a drifted site has them: columns missing or added,
    some tables absent. Built as fresh `Table` definitions, never through the package."""
    spec = content_metadata()
    skipped = {doctype.table for doctype in without_tables}
    metadata = sa.MetaData()
    for table in spec.tables.values():
        if table.name in skipped:
            continue
        doctype = next((d for d in Doctype if d.table == table.name), None)
        dropped = set(drop_columns.get(doctype, ())) if doctype else set()
        columns: list[sa.Column[object]] = [
            sa.Column(
                column.name,
                column.type,
                primary_key=column.primary_key,
                nullable=column.nullable,
                server_default=(
                    None if column.server_default is None else column.server_default.arg  # type: ignore[attr-defined]
                ),
            )
            for column in table.columns
            if column.name not in dropped
        ]
        columns += list(extra_columns.get(doctype, ())) if doctype else []
        sa.Table(table.name, metadata, *columns)
    metadata.create_all(engine)


def by_key(snapshot: Snapshot) -> dict[tuple[NodeKind, str], Node]:
    return {(node.kind, node.name): node for node in snapshot.nodes}


def assert_real_booleans(snapshot: Snapshot) -> None:
    """Check fields are `bool`, not the database's 0/1."""
    objects: list[object] = [snapshot.plan, *snapshot.nodes, *snapshot.stages]
    for obj in objects:
        for field in fields(obj):  # type: ignore[arg-type]
            if field.type == "bool":
                value = getattr(obj, field.name)
                assert type(value) is bool, f"{obj!r}.{field.name} = {value!r}"


def small_tree(
    builder: CatalogueBuilder, plan: str = "P1", subject: str = "S1", *, is_published: bool = True
) -> None:
    """One plan → subject → track → unit → topic → lesson → stage."""
    builder.plan(plan, subjects=[subject], is_published=is_published)
    builder.subject(subject)
    builder.track(f"{subject}-T", subject)
    builder.unit(f"{subject}-U", f"{subject}-T")
    builder.topic(f"{subject}-TP", f"{subject}-U")
    builder.lesson(f"{subject}-L", f"{subject}-TP")
    builder.stage(f"{subject}-L", name=f"{subject}-L-stage", title="Watch")


# -- the content schema -------------------------------------------------------------------


def test_content_schema_creates_every_table_with_frappe_standard_columns(
    engine: sa.Engine,
) -> None:
    content_metadata().create_all(engine)

    inspector = sa.inspect(engine)
    assert set(SPEC_TABLES) <= set(inspector.get_table_names())
    for table, (child, spec_fields) in SPEC_TABLES.items():
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        expected = STANDARD_COLUMNS + (CHILD_COLUMNS if child else ()) + spec_fields
        assert sorted(columns) == sorted(expected), table
        assert inspector.get_pk_constraint(table)["constrained_columns"] == ["name"], table
        for name in ("name", "modified_by", "owner", *(CHILD_COLUMNS if child else ())):
            assert getattr(columns[name]["type"], "length", None) == 140, (table, name)
        for name in ("creation", "modified"):
            assert isinstance(columns[name]["type"], sa.DateTime), (table, name)
        for name in ("docstatus", "idx"):
            assert isinstance(columns[name]["type"], sa.Integer), (table, name)


def test_content_schema_defaults_docstatus_idx_and_the_default_one_fields(
    engine: sa.Engine,
) -> None:
    content_metadata().create_all(engine)
    tables = content_metadata().tables
    with engine.begin() as conn:
        for table in ("tabMemora Academic Plan", "tabMemora Subject"):
            conn.execute(sa.insert(tables[table]).values(name="X", title="X"))
        conn.execute(
            sa.insert(tables["tabMemora Lesson Stage"]).values(name="X", parent="L", type="Text")
        )
        plan = conn.execute(sa.select(tables["tabMemora Academic Plan"])).mappings().one()
        subject = conn.execute(sa.select(tables["tabMemora Subject"])).mappings().one()
        stage = conn.execute(sa.select(tables["tabMemora Lesson Stage"])).mappings().one()

    assert (plan["docstatus"], plan["idx"], plan["is_published"]) == (0, 0, 1)
    assert (subject["is_published"], subject["is_linear"], subject["is_public"]) == (1, 1, 0)
    assert (subject["is_free_preview"], subject["sort_order"]) == (0, 0)
    assert (stage["weight"], stage["is_skippable"], stage["target_time"]) == (1.0, 0, None)


# -- a bounded number of statements -------------------------------------------------------


def test_load_runs_the_same_few_statements_for_a_catalogue_twenty_times_larger(
    engine: sa.Engine,
) -> None:
    create_content_schema(engine)
    small = build_catalogue(engine, prefix="small-")
    large = build_catalogue(engine, scale=SCALE, prefix="large-")
    source = SqlSource(engine)

    with count_statements(engine) as reflection:
        tables = source.tables()
    with count_statements(engine) as again:
        assert source.tables() is tables
    with count_statements(engine) as small_statements:
        small_snapshot = source.load(small.plans[0])
    with count_statements(engine) as large_statements:
        large_snapshot = source.load(large.plans[0])
    with count_statements(engine) as repeated:
        source.load(small.plans[0])

    assert reflection, "tables() reflects the schema on first use"
    assert again == [], "the reflected schema is cached"
    assert len(small_statements) == len(large_statements) <= STATEMENT_BUDGET
    assert repeated == small_statements, "a second load runs the same statements, no reflection"
    for statement in small_statements + large_statements:
        assert not any(marker in statement.lower() for marker in REFLECTION_MARKERS), statement

    # Not vacuous: the large snapshot really is twenty times the small one, level by level.
    assert small_snapshot is not None
    assert large_snapshot is not None
    small_kinds = Counter(node.kind for node in small_snapshot.nodes)
    large_kinds = Counter(node.kind for node in large_snapshot.nodes)
    assert small_kinds == small.nodes_per_plan
    assert large_kinds == {kind: SCALE * count for kind, count in small_kinds.items()}
    assert len(small_snapshot.stages) == small.stages_per_plan
    assert len(large_snapshot.stages) == SCALE * len(small_snapshot.stages)
    assert len(large_snapshot.subjects) == SCALE * len(small_snapshot.subjects)
    assert small_snapshot.warnings == large_snapshot.warnings == ()


# -- a plan snapshot, field by field ------------------------------------------------------


def test_plan_snapshot_round_trips_every_field(engine: sa.Engine) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    b.season("2024-2025", title="العام الدراسي ٢٠٢٤–٢٠٢٥")
    b.grade("G10", title="Grade 10")
    # No Stream row for "SCI": the plan shows the link name.
    b.plan("PLAN-SCI", title="الخطة العلمية", season="2024-2025", grade="G10", stream="SCI")
    # No Season row for "2023-2024" either.
    b.plan("PLAN-OLD", title="Old plan", season="2023-2024", grade="G10")
    # Plan subjects: row names sort differently from (sort_order, idx).
    b.plan_subject("PLAN-SCI", "S-MATH", sort_order=2, idx=1, name="ps-a")
    b.plan_subject("PLAN-SCI", "S-PHYS", sort_order=1, idx=3, name="ps-b")
    b.plan_subject("PLAN-SCI", "S-CHEM", sort_order=1, idx=2, name="ps-c")
    # Overrides: row names sort differently from idx.
    b.override("PLAN-SCI", Doctype.UNIT, "U-EQ", "Rename", "المعادلات", idx=3, name="ov-a")
    b.override("PLAN-SCI", Doctype.LESSON, "L-DRAFT", "Hide", idx=1, name="ov-b")
    b.override("PLAN-SCI", Doctype.TRACK, "T-ALG", "Set Linear", "yes", idx=2, name="ov-c")
    b.subject(
        "S-MATH",
        title="الرياضيات",
        description="Algebra & geometry",
        image="/files/math.png",
        color_code="#1E88E5",
        sort_order=7,
        is_public=True,
        required_item="COURSE-001",
        is_linear=False,
    )
    b.subject("S-PHYS", title="Physics", is_free_preview=True)
    b.subject("S-CHEM", title="Chemistry", is_published=False)
    b.track(
        "T-ALG",
        "S-MATH",
        title="Algebra",
        image="/files/alg.png",
        sort_order=2,
        is_sold_separately=True,
        required_item="DLC-ALG",
        parent_item_required=True,
        is_linear=True,
    )
    b.unit(
        "U-EQ",
        "T-ALG",
        title="Equations",
        description="Linear equations",
        badge_image="/files/badge.svg",
        sort_order=1,
        is_free_preview=True,
    )
    b.topic("TP-LIN", "U-EQ", title="وحدة الخطية", is_linear=True, sort_order=4)
    b.lesson("L-ONE", "TP-LIN", title="الدرس الأول", description="مقدمة", sort_order=1)
    b.lesson("L-DRAFT", "TP-LIN", title="Draft lesson", is_published=False, sort_order=2)
    video = json.dumps(
        {"video_url": "https://media.example/one.mp4", "caption": "مرحبا"}, ensure_ascii=False
    )
    b.stage(
        "L-ONE",
        name="st-2",
        idx=1,
        title="شاهد",
        type="Video",
        weight=2.5,
        target_time=300,
        is_skippable=True,
        config=video,
    )
    b.stage("L-ONE", name="st-1", idx=2, title="Answer", type="Question", config="{not json")
    b.insert()

    snapshot = SqlSource(engine).load("PLAN-SCI")

    assert snapshot is not None
    assert snapshot.plan == Plan(
        name="PLAN-SCI",
        title="الخطة العلمية",
        season="العام الدراسي ٢٠٢٤–٢٠٢٥",
        grade="Grade 10",
        stream="SCI",
        is_published=True,
    )
    old = SqlSource(engine).load("PLAN-OLD")
    assert old is not None
    assert (old.plan.season, old.plan.grade, old.plan.stream) == ("2023-2024", "Grade 10", None)
    assert snapshot.subjects == (
        PlanSubject("S-CHEM", sort_order=1, idx=2),
        PlanSubject("S-PHYS", sort_order=1, idx=3),
        PlanSubject("S-MATH", sort_order=2, idx=1),
    )
    assert snapshot.overrides == (
        Override("Memora Lesson", "L-DRAFT", "Hide", None, idx=1),
        Override("Memora Track", "T-ALG", "Set Linear", "yes", idx=2),
        Override("Memora Unit", "U-EQ", "Rename", "المعادلات", idx=3),
    )
    assert by_key(snapshot) == {
        (NodeKind.SUBJECT, "S-MATH"): Node(
            kind=NodeKind.SUBJECT,
            name="S-MATH",
            title="الرياضيات",
            description="Algebra & geometry",
            image="/files/math.png",
            color_code="#1E88E5",
            sort_order=7,
            is_public=True,
            required_item="COURSE-001",
            is_linear=False,
        ),
        (NodeKind.SUBJECT, "S-PHYS"): Node(
            kind=NodeKind.SUBJECT,
            name="S-PHYS",
            title="Physics",
            is_free_preview=True,
            is_linear=True,
        ),
        (NodeKind.SUBJECT, "S-CHEM"): Node(
            kind=NodeKind.SUBJECT,
            name="S-CHEM",
            title="Chemistry",
            is_published=False,
            is_linear=True,
        ),
        (NodeKind.TRACK, "T-ALG"): Node(
            kind=NodeKind.TRACK,
            name="T-ALG",
            title="Algebra",
            parent="S-MATH",
            image="/files/alg.png",
            sort_order=2,
            is_sold_separately=True,
            required_item="DLC-ALG",
            parent_item_required=True,
            is_linear=True,
        ),
        (NodeKind.UNIT, "U-EQ"): Node(
            kind=NodeKind.UNIT,
            name="U-EQ",
            title="Equations",
            parent="T-ALG",
            description="Linear equations",
            badge_image="/files/badge.svg",
            sort_order=1,
            is_free_preview=True,
        ),
        (NodeKind.TOPIC, "TP-LIN"): Node(
            kind=NodeKind.TOPIC,
            name="TP-LIN",
            title="وحدة الخطية",
            parent="U-EQ",
            sort_order=4,
            is_linear=True,
        ),
        (NodeKind.LESSON, "L-ONE"): Node(
            kind=NodeKind.LESSON,
            name="L-ONE",
            title="الدرس الأول",
            parent="TP-LIN",
            description="مقدمة",
            sort_order=1,
        ),
        (NodeKind.LESSON, "L-DRAFT"): Node(
            kind=NodeKind.LESSON,
            name="L-DRAFT",
            title="Draft lesson",
            parent="TP-LIN",
            sort_order=2,
            is_published=False,
        ),
    }
    assert sorted(snapshot.stages, key=lambda s: s.idx) == [
        Stage(
            lesson="L-ONE",
            idx=1,
            name="st-2",
            title="شاهد",
            type="Video",
            weight=2.5,
            target_time=300,
            is_skippable=True,
            config=video,
        ),
        Stage(
            lesson="L-ONE",
            idx=2,
            name="st-1",
            title="Answer",
            type="Question",
            weight=1.0,
            config="{not json",
        ),
    ]
    assert all(type(stage.weight) is float for stage in snapshot.stages)
    assert_real_booleans(snapshot)
    assert snapshot.warnings == ()


def test_plan_links_fall_back_to_their_names_when_the_linked_tables_are_missing(
    engine: sa.Engine,
) -> None:
    drifted_schema(
        engine,
        without_tables=(Doctype.SEASON, Doctype.GRADE, Doctype.STREAM, Doctype.PLAN_OVERRIDE),
    )
    b = CatalogueBuilder(engine)
    b.plan("P1", title="Plan", season="2024-2025", grade="G10", stream="SCI", subjects=["S1"])
    b.subject("S1")
    b.insert()

    source = SqlSource(engine)
    snapshot = source.load("P1")

    assert source.tables()[Doctype.SEASON] is None
    assert snapshot is not None
    assert snapshot.plan == Plan("P1", "Plan", season="2024-2025", grade="G10", stream="SCI")
    assert snapshot.overrides == ()
    assert [node.name for node in snapshot.nodes] == ["S1"]


def test_plan_without_links_has_no_season_grade_or_stream(engine: sa.Engine) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    b.plan("P1", title="", subjects=[])
    b.insert()

    snapshot = SqlSource(engine).load("P1")

    assert snapshot == Snapshot(plan=Plan("P1", "P1", season=None, grade=None, stream=None))


# -- drifted sites ------------------------------------------------------------------------


def test_missing_optional_columns_take_their_defaults(engine: sa.Engine) -> None:
    drifted_schema(
        engine,
        drop_columns={
            Doctype.SUBJECT: ("is_public", "is_linear", "sort_order", "color_code"),
            Doctype.TRACK: ("is_linear", "is_sold_separately"),
            Doctype.LESSON: ("is_published", "is_free_preview"),
            Doctype.LESSON_STAGE: ("weight", "is_skippable", "target_time", "config"),
            Doctype.PLAN: ("is_published", "season"),
            Doctype.PLAN_SUBJECT: ("sort_order",),
        },
    )
    b = CatalogueBuilder(engine)
    # The values given for missing columns are lost, as on a site without them.
    b.plan("P1", subjects=["S1"], is_published=False, season="2024-2025")
    b.subject("S1", is_public=True, is_linear=False, sort_order=5, color_code="#fff")
    b.track("T1", "S1", is_linear=True, is_sold_separately=True)
    b.unit("U1", "T1")
    b.topic("TP1", "U1")
    b.lesson("L1", "TP1", is_published=False, is_free_preview=True)
    b.stage("L1", name="L1-1", weight=3.0, is_skippable=True, target_time=60, config="{}")
    b.insert()

    snapshot = SqlSource(engine).load("P1")

    assert snapshot is not None
    assert snapshot.plan == Plan("P1", "P1", is_published=True)
    assert snapshot.subjects == (PlanSubject("S1", sort_order=0, idx=1),)
    nodes = by_key(snapshot)
    subject = nodes[(NodeKind.SUBJECT, "S1")]
    assert (subject.is_public, subject.is_linear, subject.sort_order) == (False, True, 0)
    assert subject.color_code is None
    track = nodes[(NodeKind.TRACK, "T1")]
    assert (track.is_linear, track.is_sold_separately) == (False, False)
    lesson = nodes[(NodeKind.LESSON, "L1")]
    assert (lesson.is_published, lesson.is_free_preview) == (True, False)
    assert snapshot.stages == (
        Stage("L1", 1, "L1-1", "", "Video", weight=1.0, target_time=None, is_skippable=False),
    )
    assert_real_booleans(snapshot)


def test_null_values_take_the_column_defaults(engine: sa.Engine) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    b.plan("P1", subjects=["S1"], is_published=None)
    b.subject("S1", is_linear=None, is_published=None, is_public=None, sort_order=None)
    b.track("T1", "S1", is_linear=None, is_free_preview=None, title="")
    b.unit("U1", "T1")
    b.topic("TP1", "U1")
    b.lesson("L1", "TP1")
    b.stage("L1", name="L1-1", weight=None, is_skippable=None, title=None)
    b.insert()

    snapshot = SqlSource(engine).load("P1")

    assert snapshot is not None
    assert snapshot.plan.is_published is True
    nodes = by_key(snapshot)
    subject = nodes[(NodeKind.SUBJECT, "S1")]
    # SPEC §3: NULL is_published on a content node is 0 (the plan's NULL keeps its default).
    assert (subject.is_linear, subject.is_published, subject.is_public) == (True, False, False)
    assert snapshot.warnings == (
        "Memora Subject 'S1': is_published is NULL; read as 0 (unpublished)",
    )
    assert subject.sort_order == 0
    track = nodes[(NodeKind.TRACK, "T1")]
    assert (track.is_linear, track.is_free_preview, track.title) == (False, False, "T1")
    assert snapshot.stages == (Stage("L1", 1, "L1-1", "", "Video", weight=1.0),)
    assert_real_booleans(snapshot)


def test_extra_columns_are_ignored(engine: sa.Engine) -> None:
    drifted_schema(
        engine,
        extra_columns={
            Doctype.SUBJECT: (
                sa.Column("custom_level", sa.String(140)),
                sa.Column("_user_tags", sa.Text()),
            ),
            Doctype.LESSON_STAGE: (sa.Column("custom_flag", sa.Integer()),),
        },
    )
    b = CatalogueBuilder(engine)
    b.plan("P1", subjects=["S1"])
    b.subject("S1", title="Subject", custom_level="advanced", _user_tags="x,y")
    b.track("T1", "S1")
    b.unit("U1", "T1")
    b.topic("TP1", "U1")
    b.lesson("L1", "TP1")
    b.stage("L1", name="L1-1", custom_flag=1)
    b.insert()

    snapshot = SqlSource(engine).load("P1")

    assert snapshot is not None
    assert by_key(snapshot)[(NodeKind.SUBJECT, "S1")] == Node(
        kind=NodeKind.SUBJECT, name="S1", title="Subject", is_linear=True
    )
    assert [stage.name for stage in snapshot.stages] == ["L1-1"]
    assert len(snapshot.nodes) == 5


@pytest.mark.parametrize(
    ("doctype", "column"),
    [
        (Doctype.SUBJECT, "title"),
        (Doctype.LESSON, "parent_topic"),
        (Doctype.TRACK, "parent_subject"),
        (Doctype.TOPIC, "name"),
        (Doctype.LESSON_STAGE, "type"),
        (Doctype.LESSON_STAGE, "parent"),
        (Doctype.PLAN_SUBJECT, "subject"),
    ],
    ids=lambda value: value.name.lower() if isinstance(value, Doctype) else value,
)
def test_missing_required_column_is_an_error_naming_table_and_column(
    engine: sa.Engine, doctype: Doctype, column: str
) -> None:
    drifted_schema(engine, drop_columns={doctype: (column,)})
    source = SqlSource(engine)

    with pytest.raises(SourceSchemaError) as raised:
        source.load("P1")

    assert str(raised.value) == (
        f"source table `{doctype.table}` has no column `{column}`, which memora-cdn needs"
    )
    assert (raised.value.table, raised.value.column) == (doctype.table, column)


def test_missing_required_table_is_an_error_naming_the_table(engine: sa.Engine) -> None:
    drifted_schema(engine, without_tables=(Doctype.LESSON_STAGE,))

    with pytest.raises(SourceSchemaError) as raised:
        SqlSource(engine).plan_names()

    assert str(raised.value) == (
        "source table `tabMemora Lesson Stage` is missing; run `memora-cdn init --content-schema`"
    )
    assert (raised.value.table, raised.value.column) == ("tabMemora Lesson Stage", None)


# -- orphans ------------------------------------------------------------------------------


def test_orphans_the_plan_published_before_are_its_warnings_and_the_plan_still_loads(
    engine: sa.Engine,
) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    small_tree(b)
    b.lesson("L-ORPHAN", "TP-GONE")
    b.stage("L-GONE", name="ST-ORPHAN")
    b.track("T-LOOSE", "")
    b.unit("U-NULL", None)
    b.insert()
    published = {
        ("Memora Lesson", "L-ORPHAN"),
        ("Memora Lesson Stage", "ST-ORPHAN"),
        ("Memora Subject", "S1"),
    }

    snapshot = SqlSource(engine).load("P1", published)

    assert snapshot is not None
    assert sorted(snapshot.warnings) == [
        "Memora Lesson 'L-ORPHAN': parent Memora Topic 'TP-GONE' not found; skipped (orphan)",
        "Memora Lesson Stage 'ST-ORPHAN': parent Memora Lesson 'L-GONE' not found; "
        "skipped (orphan)",
    ]
    assert sorted(node.name for node in snapshot.nodes) == [
        "S1",
        "S1-L",
        "S1-T",
        "S1-TP",
        "S1-U",
    ]
    assert [stage.name for stage in snapshot.stages] == ["S1-L-stage"]


def test_a_load_looks_for_orphans_only_among_published_rows_that_vanished(
    engine: sa.Engine,
) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    small_tree(b)
    b.lesson("L-ORPHAN", "TP-GONE")
    b.insert()
    source = SqlSource(engine)
    source.tables()
    still_there = {("Memora Subject", "S1"), ("Memora Lesson", "S1-L")}

    with count_statements(engine) as unpublished:
        source.load("P1")
    with count_statements(engine) as all_loaded:
        quiet = source.load("P1", still_there)
    with count_statements(engine) as one_vanished:
        warned = source.load("P1", still_there | {("Memora Lesson", "L-ORPHAN")})

    assert all_loaded == unpublished, "nothing vanished: no orphan query at all"
    assert len(one_vanished) == len(unpublished) + 1
    lookup = one_vanished[-1]
    assert "tabMemora Lesson" in lookup, "only the lessons table is looked at"
    assert "tabMemora Unit" not in lookup
    assert re.search(r"\.name IN \([^,]*\)$", lookup), "and only the vanished name"
    assert quiet is not None
    assert quiet.warnings == ()
    assert warned is not None
    assert warned.warnings == (
        "Memora Lesson 'L-ORPHAN': parent Memora Topic 'TP-GONE' not found; skipped (orphan)",
    )


def test_orphans_no_plan_published_are_in_no_plans_warnings_but_in_the_site_wide_list(
    engine: sa.Engine,
) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    small_tree(b)
    b.lesson("L-ORPHAN", "TP-GONE")
    b.stage("L-GONE", name="ST-ORPHAN")
    b.track("T-LOOSE", "")
    b.unit("U-NULL", None)
    b.insert()
    source = SqlSource(engine)

    snapshot = source.load("P1", {("Memora Subject", "S1"), ("Memora Lesson", "S1-L")})

    assert snapshot is not None
    assert snapshot.warnings == ()
    assert source.orphans() == [
        Orphan(Doctype.LESSON, "L-ORPHAN", Doctype.TOPIC, "TP-GONE"),
        Orphan(Doctype.LESSON_STAGE, "ST-ORPHAN", Doctype.LESSON, "L-GONE"),
        Orphan(Doctype.TRACK, "T-LOOSE", Doctype.SUBJECT, None),
        Orphan(Doctype.UNIT, "U-NULL", Doctype.TRACK, None),
    ]
    assert [orphan.warning() for orphan in source.orphans()][2:] == [
        "Memora Track 'T-LOOSE': no parent Memora Subject set; skipped (orphan)",
        "Memora Unit 'U-NULL': no parent Memora Track set; skipped (orphan)",
    ]


# -- missing and unpublished plans --------------------------------------------------------


def test_missing_plan_loads_as_none(engine: sa.Engine) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    small_tree(b)
    b.insert()

    assert SqlSource(engine).load("NO-SUCH-PLAN") is None


def test_unpublished_plan_loads_with_no_content(engine: sa.Engine) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    small_tree(b, plan="P-DRAFT", is_published=False)
    b.override("P-DRAFT", Doctype.SUBJECT, "S1", "Rename", "Draft")
    b.plan("P-LIVE", subjects=["S1"])
    b.insert()

    source = SqlSource(engine)
    snapshot = source.load("P-DRAFT")

    assert snapshot == Snapshot(plan=Plan("P-DRAFT", "P-DRAFT", is_published=False))
    assert type(snapshot.plan.is_published) is bool
    assert source.plan_names() == ["P-DRAFT", "P-LIVE"]


# -- child rows of other parents ----------------------------------------------------------


def test_child_rows_of_another_parenttype_or_parentfield_are_not_mixed_in(
    engine: sa.Engine,
) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    small_tree(b)
    b.override("P1", Doctype.UNIT, "S1-U", "Rename", "Mine", name="ov-mine")
    for other in ("S2", "S3"):
        b.subject(other)
        b.track(f"{other}-T", other)
    # Same parent name, another field or another parent doctype.
    b.plan_subject("P1", "S2", parentfield="archived_subjects", name="ps-field")
    b.plan_subject("P1", "S3", parenttype="Memora Course", name="ps-type")
    b.override("P1", Doctype.UNIT, "S1-U", "Hide", parentfield="notes", name="ov-field")
    b.override("P1", Doctype.UNIT, "S1-U", "Hide", parenttype="Memora Course", name="ov-type")
    b.stage("S1-L", parentfield="draft_stages", name="st-field")
    b.stage("S1-L", parenttype="Memora Lesson Template", name="st-type")
    # A stage of another doctype's document is no orphan of ours.
    b.stage("TEMPLATE-9", parenttype="Memora Lesson Template", name="st-template")
    b.insert()

    snapshot = SqlSource(engine).load("P1")

    assert snapshot is not None
    assert snapshot.subjects == (PlanSubject("S1", sort_order=0, idx=1),)
    assert [override.target_name for override in snapshot.overrides] == ["S1-U"]
    assert [override.action for override in snapshot.overrides] == ["Rename"]
    assert sorted(node.name for node in snapshot.nodes) == [
        "S1",
        "S1-L",
        "S1-T",
        "S1-TP",
        "S1-U",
    ]
    assert [stage.name for stage in snapshot.stages] == ["S1-L-stage"]
    assert snapshot.warnings == ()
