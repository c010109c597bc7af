"""Bad values stay local (SPEC §3): the loader reads any value a column holds, repairs the
bad ones, and says so in a warning naming doctype, name and field."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from catalogue import CatalogueBuilder, create_content_schema
from memora_cdn.core.model import Doctype, NodeKind, Snapshot, Stage
from memora_cdn.source.sql import SqlSource


def tree(engine: sa.Engine) -> None:
    create_content_schema(engine)
    b = CatalogueBuilder(engine)
    b.plan("P1", subjects=["S1"])
    b.subject("S1")
    b.track("T1", "S1")
    b.unit("U1", "T1")
    b.topic("TP1", "U1")
    b.lesson("L1", "TP1")
    b.lesson("L2", "TP1")
    b.stage("L1", name="ST1", type="Video")
    b.insert()


def store(engine: sa.Engine, doctype: Doctype, name: str, /, **values: Any) -> None:
    """Write values as they are (no column types in between), as a careless tool would."""
    columns = sorted({"name", *values})
    table = sa.table(doctype.table, *(sa.column(c) for c in columns))
    with engine.begin() as conn:
        done = conn.execute(sa.update(table).where(table.c.name == name).values(**values))
    assert done.rowcount == 1


def load(engine: sa.Engine) -> Snapshot:
    snapshot = SqlSource(engine).load("P1")
    assert snapshot is not None
    return snapshot


def nodes(snapshot: Snapshot) -> dict[str, Any]:
    return {node.name: node for node in snapshot.nodes}


def test_out_of_range_values_every_backend_can_hold_are_repaired_with_a_warning_each(
    engine: sa.Engine,
) -> None:
    tree(engine)
    store(engine, Doctype.SUBJECT, "S1", is_public=-1, is_linear=5)
    store(engine, Doctype.TRACK, "T1", is_sold_separately=2)
    store(engine, Doctype.LESSON, "L1", is_free_preview=2)
    store(engine, Doctype.LESSON, "L2", is_published=None)
    store(engine, Doctype.LESSON_STAGE, "ST1", weight=-2, target_time=-5, is_skippable=3)

    snapshot = load(engine)

    found = nodes(snapshot)
    assert (found["S1"].is_public, found["S1"].is_linear) == (False, True)
    assert found["T1"].is_sold_separately is False
    assert found["L1"].is_free_preview is False
    assert found["L2"].is_published is False
    assert snapshot.stages == (Stage("L1", 1, "ST1", "", "Video", weight=1.0),)
    assert sorted(snapshot.warnings) == [
        "Memora Lesson 'L1': is_free_preview 2 is not 0 or 1; read as 0",
        "Memora Lesson 'L2': is_published is NULL; read as 0 (unpublished)",
        "Memora Lesson Stage 'ST1': is_skippable 3 is not 0 or 1; read as 0",
        "Memora Lesson Stage 'ST1': target_time -5 is negative; left out",
        "Memora Lesson Stage 'ST1': weight -2 is negative; read as 1.0",
        "Memora Subject 'S1': is_linear 5 is not 0 or 1; read as 1",
        "Memora Subject 'S1': is_public -1 is not 0 or 1; read as 0",
        "Memora Track 'T1': is_sold_separately 2 is not 0 or 1; read as 0",
    ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_values_of_the_wrong_type_in_sqlite_are_repaired_with_a_warning_each(
    engine: sa.Engine,
) -> None:
    tree(engine)
    invalid_utf8 = sa.cast(sa.literal(b"Chimie \xff\xfe", sa.LargeBinary), sa.Text)
    store(engine, Doctype.SUBJECT, "S1", title=invalid_utf8, required_item=12345)
    store(engine, Doctype.UNIT, "U1", description=b"\xffbad", sort_order="1e999")
    store(engine, Doctype.TOPIC, "TP1", sort_order=2.5)
    store(engine, Doctype.LESSON, "L1", is_free_preview="yes", sort_order="soon")
    store(engine, Doctype.LESSON_STAGE, "ST1", weight="heavy", target_time=float("inf"))

    snapshot = load(engine)

    found = nodes(snapshot)
    assert found["S1"].title == "Chimie \ufffd\ufffd"
    assert found["S1"].required_item == "12345"
    assert (found["U1"].description, found["U1"].sort_order) == ("\ufffdbad", 0)
    assert found["TP1"].sort_order == 2
    assert (found["L1"].is_free_preview, found["L1"].sort_order) == (False, 0)
    assert snapshot.stages == (Stage("L1", 1, "ST1", "", "Video", weight=1.0),)
    assert sorted(snapshot.warnings) == [
        "Memora Lesson 'L1': is_free_preview 'yes' is not 0 or 1; read as 0",
        "Memora Lesson 'L1': sort_order 'soon' is not a number; read as 0",
        "Memora Lesson Stage 'ST1': target_time inf is not a finite number; left out",
        "Memora Lesson Stage 'ST1': weight 'heavy' is not a number; read as 1.0",
        "Memora Subject 'S1': title is not valid UTF-8 text; invalid characters replaced "
        "with U+FFFD",
        "Memora Topic 'TP1': sort_order 2.5 is not whole; read as 2",
        "Memora Unit 'U1': description is not valid UTF-8 text; invalid characters replaced "
        "with U+FFFD",
        "Memora Unit 'U1': sort_order inf is not a finite number; read as 0",
    ]
    assert {node.kind for node in snapshot.nodes} == set(NodeKind)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_row_whose_name_is_not_text_is_skipped_with_a_warning(engine: sa.Engine) -> None:
    tree(engine)
    store(engine, Doctype.LESSON, "L2", name=sa.cast(sa.literal(b"L\xff", sa.LargeBinary), sa.Text))

    snapshot = load(engine)

    assert sorted(nodes(snapshot)) == ["L1", "S1", "T1", "TP1", "U1"]
    assert snapshot.warnings == ("Memora Lesson 'L\\udcff': name is not text; skipped",)
