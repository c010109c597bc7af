"""Bad values stay local (SPEC §3): junk in any column of any row never stops its plan.

A property test puts arbitrary junk into one column of one row of a small catalogue, while an
editor unpublishes an unrelated lesson, and publishes: the publish succeeds, the unpublished
lesson is gone from the store and named in no file, a repaired value is a warning naming its
doctype and row, and the store is valid and equal to a fresh export.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from memora_cdn.contracts.tree import validate_tree
from memora_cdn.core.model import Doctype, Snapshot, StageType, SyncStatus
from memora_cdn.errors import InvalidDocumentsError
from memora_cdn.source.schema import FIELDS
from sitekit import Site

GONE = "LESSON-GONE"
"""The unrelated lesson the editor unpublishes in every example."""

# The row of each doctype that gets the junk, and the value its link columns hold.
TARGETS: dict[Doctype, str] = {
    Doctype.PLAN: "P1",
    Doctype.PLAN_SUBJECT: "P1-subjects-1",
    Doctype.PLAN_OVERRIDE: "P1-overrides-1",
    Doctype.SUBJECT: "S1",
    Doctype.TRACK: "T1",
    Doctype.UNIT: "U1",
    Doctype.TOPIC: "TP1",
    Doctype.LESSON: "L1",
    Doctype.LESSON_STAGE: "L1-stages-1",
    Doctype.SEASON: "SEASON",
    Doctype.GRADE: "GRADE",
    Doctype.STREAM: "STREAM",
}
ORIGINAL: dict[tuple[Doctype, str], object] = {
    (Doctype.PLAN_SUBJECT, "subject"): "S1",
    (Doctype.PLAN_OVERRIDE, "target_doctype"): "Memora Lesson",
    (Doctype.PLAN_OVERRIDE, "target_name"): "L1",
    (Doctype.PLAN_OVERRIDE, "action"): "Rename",
    (Doctype.TRACK, "parent_subject"): "S1",
    (Doctype.UNIT, "parent_track"): "T1",
    (Doctype.TOPIC, "parent_unit"): "U1",
    (Doctype.LESSON, "parent_topic"): "TP1",
    (Doctype.LESSON_STAGE, "parent"): "L1",
}
PARENT_LINKS = {
    (Doctype.TRACK, "parent_subject"),
    (Doctype.UNIT, "parent_track"),
    (Doctype.TOPIC, "parent_unit"),
    (Doctype.LESSON, "parent_topic"),
    (Doctype.LESSON_STAGE, "parent"),
}
COLUMNS = [
    (doctype, field.name, field.kind) for doctype, fields in FIELDS.items() for field in fields
] + [
    (Doctype.LESSON_STAGE, "parent", "link"),
    (Doctype.LESSON, "name", "name"),
    (Doctype.LESSON_STAGE, "name", "name"),
    (Doctype.LESSON_STAGE, "idx", "int"),
    (Doctype.PLAN_OVERRIDE, "idx", "int"),
]


@dataclass(frozen=True)
class Junk:
    value: object
    as_text: bool = False
    """Store `value` (bytes) as a TEXT value: SQLite then holds invalid UTF-8 as text."""


def _nested(depth: int) -> str:
    return '{"a": ' + "[" * depth + "]" * depth + "}"


JUNK = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Junk),
    st.sampled_from([0, 1, -1, 2, 2**63 - 1, -(2**63)]).map(Junk),
    st.integers(min_value=2**64, max_value=2**200).map(lambda n: Junk(str(n))),
    st.floats(allow_nan=True, allow_infinity=True).map(Junk),
    st.text(max_size=12).map(Junk),
    st.sampled_from(
        [
            "",
            " ",
            ".",
            "..",
            "yes",
            "heavy",
            "NaN",
            "Infinity",
            "-Infinity",
            "-1",
            "1e999",
            "0.5",
            "1",
            "0",
            "\x00",
            "Video",
            "Rename",
            "Hide",
            "TP1",
            "null",
            "[]",
            "{}",
            '{"a": NaN}',
            '{"a": 18446744073709551616}',
            '{"a": "\\ud800"}',
            '{"a": 1e400}',
            _nested(64),
            _nested(300),
            _nested(2000),
        ]
    ).map(Junk),
    st.binary(max_size=12).map(Junk),
    st.sampled_from([b"\xff\xfe", b"abc\xed\xa0\x80", b"\x80"]).map(lambda b: Junk(b, True)),
    st.builds(Junk, st.sampled_from([b'{"title": "\xff"}', b"L\xc3"]), st.just(True)),
).map(lambda junk: junk if isinstance(junk, Junk) else Junk(None))


def build(site: Site) -> None:
    b = site.build
    b.season("SEASON")
    b.grade("GRADE")
    b.stream("STREAM")
    b.plan("P1", title="Plan", season="SEASON", grade="GRADE", stream="STREAM", subjects=["S1"])
    b.override("P1", Doctype.LESSON, "L1", "Rename", "Lesson One")
    b.subject("S1", title="Subject", required_item="ITEM-1", color_code="#123456")
    b.track("T1", "S1", required_item="ITEM-2", is_sold_separately=True, is_linear=True)
    b.unit("U1", "T1", badge_image="/b.png")
    b.topic("TP1", "U1", description="Topic")
    b.topic("TP2", "U1")
    b.lesson("L1", "TP1", image="/l1.png")
    b.lesson("L-KEPT", "TP2")
    b.lesson(GONE, "TP2")
    for lesson in ("L1", "L-KEPT", GONE):
        b.stage(lesson, type="Video", weight=2.0, target_time=30, config={"video_url": "/v.mp4"})
        b.stage(lesson, type="Text", config={"body": "text"})
    b.insert()


def _untyped(doctype: Doctype, column: str) -> Any:
    """The table with no column types: values reach the database, and come back, as they are."""
    return sa.table(doctype.table, *(sa.column(c) for c in sorted({"name", column})))


def store_junk(site: Site, doctype: Doctype, column: str, junk: Junk) -> int | None:
    """Write the junk into the target row; its rowid, or None if the column refuses it."""
    table = _untyped(doctype, column)
    value: Any = junk.value
    if junk.as_text:
        value = sa.cast(sa.literal(junk.value, sa.LargeBinary), sa.Text)
    rowid = sa.literal_column("rowid")
    try:
        with site.engine.begin() as conn:
            found = conn.execute(sa.select(rowid).where(table.c.name == TARGETS[doctype])).one()
            conn.execute(sa.update(table).where(rowid == found[0]).values({column: value}))
    except sa.exc.IntegrityError:  # NOT NULL, or a duplicate name
        return None
    return int(found[0])


def stored(site: Site, doctype: Doctype, rowid: int, column: str) -> object:
    """A value as the database holds it now (invalid UTF-8 text decoded with
    surrogateescape): what the reader must cope with."""
    table = _untyped(doctype, column)
    with site.engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        raw.text_factory = lambda data: data.decode("utf-8", "surrogateescape")
        query = sa.select(table.c[column]).where(sa.literal_column("rowid") == rowid)
        return conn.execute(query).scalar_one()


def _number(raw: object) -> float | None:
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, int | float):
        return raw  # type: ignore[return-value]
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            return None
    return None


def _bad_text(raw: object) -> bool:
    if isinstance(raw, bytes):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    return isinstance(raw, str) and any("\ud800" <= c <= "\udfff" for c in raw)


def _strict_object(raw: object) -> bool:
    if not isinstance(raw, str):
        return False

    def reject(name: str) -> object:
        raise ValueError(name)

    try:
        value = json.loads(raw, parse_constant=reject)
        orjson.dumps(value)
    except (ValueError, RecursionError, TypeError):
        return False
    if not isinstance(value, dict):
        return False

    def depth(item: object) -> int:
        if isinstance(item, dict):
            return 1 + max(map(depth, item.values()), default=0)
        if isinstance(item, list):
            return 1 + max(map(depth, item), default=0)
        if isinstance(item, float) and not math.isfinite(item):
            return 10_000
        return 0

    return depth(value) <= 64


def needs_repair(doctype: Doctype, column: str, kind: str, raw: object) -> bool:
    """Whether the stored value certainly cannot be published as it is (an independent,
    conservative oracle: False where a repair is optional)."""
    blank = raw is None or (isinstance(raw, str | bytes) and not raw.strip())
    if (doctype, column) in PARENT_LINKS:
        return raw != ORIGINAL[(doctype, column)]
    if (doctype, column) in ORIGINAL:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return (text if isinstance(text, str) else str(text)) != ORIGINAL[(doctype, column)]
    if column == "type":
        return raw not in {t.value for t in StageType}
    if column == "config":
        return not blank and not _strict_object(raw)
    if column == "name":
        return _bad_text(raw) or raw in ("", ".", "..")
    if kind == "check":
        if raw is None:
            return column == "is_published" and doctype is not Doctype.PLAN
        return _number(raw) not in (0, 1)
    if kind in ("int", "float"):
        if blank:
            return False
        number = _number(raw)
        if number is None or not math.isfinite(number):
            return True
        if column in ("target_time", "weight") and number < 0:
            return True
        return kind == "int" and not -(2**63) <= number < 2**63
    return _bad_text(raw)


def named(warnings: tuple[str, ...], doctype: Doctype, name: object) -> list[str]:
    """The warnings about one row: its doctype, and its name when the name is text."""
    shown = repr(name) if isinstance(name, str) else ""
    return [w for w in warnings if w.startswith(doctype.value) and shown in w]


def check_bad_value(root: Path, doctype: Doctype, column: str, kind: str, junk: Junk) -> bool:
    """Publish after the junk lands and an unrelated lesson is unpublished; False when the
    column refused the junk (nothing to check)."""
    site = Site(root)
    try:
        build(site)
        assert site.app.publisher.publish("P1").warnings == ()
        assert f"plans/P1/lessons/{GONE}.json" in site.keys("P1")

        rowid = store_junk(site, doctype, column, junk)
        if rowid is None:
            return False
        site.update(Doctype.LESSON, GONE, is_published=0)
        raw = stored(site, doctype, rowid, column)
        name = raw if column == "name" else TARGETS[doctype]

        result = site.app.publisher.publish("P1")

        log = site.app.state.sync_log(plan="P1")[0]
        assert (log.id, log.status) == (result.log_id, SyncStatus.SUCCESS)
        assert f"plans/P1/lessons/{GONE}.json" not in site.keys("P1")
        assert GONE not in site.text("P1")
        if needs_repair(doctype, column, kind, raw):
            # Child rows are named by their parent and position in some warnings.
            child = doctype in (Doctype.PLAN_SUBJECT, Doctype.PLAN_OVERRIDE)
            found = named(result.warnings, doctype, None if child else name)
            assert found, f"no warning names {doctype.value} {name!r}: {result.warnings}"
            if kind in ("check", "int", "float") or column in ("config", "type"):
                assert any(column in w for w in found), result.warnings
        if (site.root / "cdn" / "plans").is_dir():
            assert validate_tree(site.root / "cdn") == []
        site.assert_store_equals_fresh_export()
    finally:
        site.close()
    return True


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(column=st.sampled_from(COLUMNS), junk=JUNK)
def test_junk_in_any_column_never_stops_the_plan_and_an_unrelated_unpublish_lands(
    column: tuple[Doctype, str, str], junk: Junk
) -> None:
    doctype, name, kind = column
    with tempfile.TemporaryDirectory() as root:
        assume(check_bad_value(Path(root), doctype, name, kind, junk))


@pytest.mark.parametrize(
    ("doctype", "column", "junk"),
    [
        (Doctype.LESSON_STAGE, "config", Junk('{"a": ' + "1" * 25 + "}")),
        (Doctype.LESSON_STAGE, "config", Junk(_nested(300))),
        (Doctype.LESSON_STAGE, "config", Junk('{"a": "\\ud800"}')),
        (Doctype.LESSON_STAGE, "weight", Junk("heavy")),
        (Doctype.LESSON_STAGE, "target_time", Junk(-5)),
        (Doctype.LESSON, "is_free_preview", Junk("yes")),
        (Doctype.LESSON, "title", Junk(b"\xff\xfe", as_text=True)),
        (Doctype.SUBJECT, "is_published", Junk(None)),
    ],
    ids=lambda v: v.name.lower() if isinstance(v, Doctype) else None,
)
def test_each_bad_value_of_the_issue_is_repaired_and_the_unpublish_lands(
    tmp_path: Path, doctype: Doctype, column: str, junk: Junk
) -> None:
    kind = next(f.kind for f in FIELDS[doctype] if f.name == column)
    assert check_bad_value(tmp_path, doctype, column, kind, junk)


def test_the_bytes_to_upload_are_validated_so_a_nan_weight_written_as_null_uploads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Site(tmp_path)
    try:
        build(site)
        load = site.app.source.load

        def nan_weight(plan: str, published: Any = frozenset()) -> Snapshot | None:
            """A snapshot with a value no reader lets through: the encoder writes it as null."""
            snapshot = load(plan, published)
            assert snapshot is not None
            stages = tuple(replace(s, weight=math.nan) for s in snapshot.stages)
            return replace(snapshot, stages=stages)

        monkeypatch.setattr(site.app.source, "load", nan_weight)

        with pytest.raises(InvalidDocumentsError) as raised:
            site.app.publisher.publish("P1")

        assert "plans/P1/lessons/L1.json: $.stages[0].weight: must be a number, not null" in (
            raised.value.problems
        )
        assert site.keys() == set()
    finally:
        site.close()


@pytest.mark.parametrize(
    "db_url",
    [
        pytest.param("mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
def test_bad_values_a_typed_site_database_holds_stay_local_and_the_unpublish_lands(
    tmp_path: Path, db_url: str
) -> None:
    site = Site(tmp_path, database_url=db_url)
    try:
        build(site)
        site.app.publisher.publish("P1")
        junk: dict[tuple[Doctype, str], dict[str, object]] = {
            (Doctype.SUBJECT, "S1"): {"is_public": 7, "sort_order": -3},
            (Doctype.LESSON, "L1"): {"is_free_preview": 2},
            (Doctype.LESSON_STAGE, "L1-stages-1"): {
                "weight": -1,
                "target_time": -5,
                "is_skippable": 9,
                "config": _nested(300),
            },
            (Doctype.LESSON_STAGE, "L1-stages-2"): {"config": '{"a": 18446744073709551616}'},
        }
        for (doctype, name), values in junk.items():
            table = sa.table(doctype.table, *(sa.column(c) for c in sorted({"name", *values})))
            with site.engine.begin() as conn:
                conn.execute(sa.update(table).where(table.c.name == name).values(**values))
        site.update(Doctype.LESSON, GONE, is_published=0)

        result = site.app.publisher.publish("P1")

        assert f"plans/P1/lessons/{GONE}.json" not in site.keys("P1")
        assert GONE not in site.text("P1")
        assert sorted(result.warnings) == [
            "Memora Lesson 'L1': is_free_preview 2 is not 0 or 1; read as 0",
            "Memora Lesson Stage 'L1-stages-1' of lesson 'L1': config nests deeper than 64; "
            "rendered as {}",
            "Memora Lesson Stage 'L1-stages-1': is_skippable 9 is not 0 or 1; read as 0",
            "Memora Lesson Stage 'L1-stages-1': target_time -5 is negative; left out",
            "Memora Lesson Stage 'L1-stages-1': weight -1 is negative; read as 1.0",
            "Memora Lesson Stage 'L1-stages-2' of lesson 'L1': config is not valid JSON "
            "(integer 18446744073709551616 is beyond 64 bits); rendered as {}",
            "Memora Subject 'S1': is_public 7 is not 0 or 1; read as 0",
        ]
        assert validate_tree(site.root / "cdn") == []
        site.assert_store_equals_fresh_export()
    finally:
        site.close()
