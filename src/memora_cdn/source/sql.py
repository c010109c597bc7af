"""Read a plan's snapshot from the Frappe-layout tables with a fixed number of queries.

Columns are discovered once per adapter (reflection), so a site whose tables lack optional
columns or carry extra ones still loads; a missing required column is a `SourceSchemaError`.
Every snapshot is then loaded set-based: one statement per level of the tree, whatever its
size, plus one for orphan detection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    MetaData,
    Select,
    Table,
    and_,
    exists,
    inspect,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.exc import NoSuchTableError

from memora_cdn.core.events import PARENT_LINKS
from memora_cdn.core.model import (
    Doctype,
    Node,
    NodeKind,
    Override,
    Plan,
    PlanSubject,
    Snapshot,
    Stage,
)
from memora_cdn.errors import SourceSchemaError
from memora_cdn.source.schema import CHILD_TABLES, FIELDS, Field

_PARENT_LINK: dict[NodeKind, str] = {
    kind: PARENT_LINKS[kind.doctype][0] for kind in NodeKind if kind is not NodeKind.SUBJECT
}
_PARENT_KIND: dict[NodeKind, NodeKind] = {
    child: kind for kind in NodeKind if (child := kind.child) is not None
}
_OPTIONAL_TABLES = frozenset({Doctype.SEASON, Doctype.GRADE, Doctype.STREAM, Doctype.PLAN_OVERRIDE})


class SqlSource:
    """The content tables of one database (SQLite, MariaDB or PostgreSQL), read only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tables: dict[Doctype, Table | None] | None = None

    # -- schema discovery -------------------------------------------------------------

    def tables(self) -> Mapping[Doctype, Table | None]:
        """Reflected tables (None for a missing optional one); checked once, then cached."""
        if self._tables is None:
            self._tables = self._reflect()
        return self._tables

    def _reflect(self) -> dict[Doctype, Table | None]:
        inspector = inspect(self.engine)
        present = set(inspector.get_table_names())
        found: dict[Doctype, Table | None] = {}
        metadata = MetaData()
        for doctype, fields in FIELDS.items():
            if doctype.table not in present:
                if doctype in _OPTIONAL_TABLES:
                    found[doctype] = None
                    continue
                raise SourceSchemaError(doctype.table)
            try:
                columns = {c["name"] for c in inspector.get_columns(doctype.table)}
            except NoSuchTableError:  # pragma: no cover - dropped between the two calls
                raise SourceSchemaError(doctype.table) from None
            required = ["name"] + (["parent"] if doctype in CHILD_TABLES else [])
            required += [f.name for f in fields if f.required]
            for column in required:
                if column not in columns:
                    raise SourceSchemaError(doctype.table, column)
            wanted = ["name", "idx"]
            if doctype in CHILD_TABLES:
                wanted += ["parent", "parentfield", "parenttype"]
            wanted += [f.name for f in fields]
            found[doctype] = Table(
                doctype.table, metadata, *(Column(c) for c in wanted if c in columns)
            )
        return found

    def _table(self, doctype: Doctype) -> Table:
        table = self.tables()[doctype]
        assert table is not None, f"{doctype} is required"
        return table

    # -- reads --------------------------------------------------------------------------

    def plan_names(self) -> list[str]:
        """Every academic plan, published or not, by name."""
        plan = self._table(Doctype.PLAN)
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(select(plan.c.name).order_by(plan.c.name))]

    def plans(self) -> list[Plan]:
        """Every academic plan, published or not, with its titles (one query)."""
        with self.engine.connect() as conn:
            return [_plan(row) for row in conn.execute(self._plans_query()).mappings()]

    def load(self, plan_name: str) -> Snapshot | None:
        """The plan's snapshot, or None when no such plan exists."""
        with self.engine.connect() as conn:
            plan_row = conn.execute(self._plan_query(plan_name)).mappings().first()
            if plan_row is None:
                return None
            plan = _plan(plan_row)
            if not plan.is_published:
                return Snapshot(plan=plan)
            subject_names = self._plan_subject_names(plan_name)
            plan_subjects = tuple(
                PlanSubject(
                    subject=row["subject"],
                    sort_order=_int(row, "sort_order", 0) or 0,
                    idx=_int(row, "idx", 0) or 0,
                )
                for row in conn.execute(self._plan_subject_query(plan_name)).mappings()
                if row["subject"]
            )
            overrides = tuple(self._overrides(conn.execute, plan_name))
            nodes: list[Node] = []
            scope = subject_names
            for kind in NodeKind:
                table = self._table(kind.doctype)
                if kind is NodeKind.SUBJECT:
                    where = table.c.name.in_(scope)
                else:
                    where = table.c[_PARENT_LINK[kind]].in_(scope)
                rows = conn.execute(select(table).where(where)).mappings()
                nodes.extend(_node(kind, row) for row in rows)
                scope = select(table.c.name).where(where).scalar_subquery()
            stages_table = self._table(Doctype.LESSON_STAGE)
            stages = tuple(
                _stage(row)
                for row in conn.execute(
                    select(stages_table).where(
                        stages_table.c.parent.in_(scope),
                        child_kind(stages_table, Doctype.LESSON, "stages"),
                    )
                ).mappings()
            )
            orphans = tuple(_orphan(row) for row in conn.execute(self._orphan_query()))
        return Snapshot(
            plan=plan,
            subjects=plan_subjects,
            overrides=overrides,
            nodes=tuple(nodes),
            stages=stages,
            warnings=orphans,
        )

    # -- statements ---------------------------------------------------------------------

    def _plan_query(self, plan_name: str) -> Select[Any]:
        return self._plans_query().where(self._table(Doctype.PLAN).c.name == plan_name)

    def _plans_query(self) -> Select[Any]:
        """Every plan's row with the titles of its season, grade and stream."""
        plan = self._table(Doctype.PLAN)
        columns: list[Any] = list(plan.c)
        joined: Any = plan
        for link, doctype in (
            ("season", Doctype.SEASON),
            ("grade", Doctype.GRADE),
            ("stream", Doctype.STREAM),
        ):
            linked = self.tables()[doctype]
            if linked is None or link not in plan.c or "title" not in linked.c:
                continue
            alias = linked.alias(f"{link}_t")
            joined = joined.outerjoin(alias, alias.c.name == plan.c[link])
            columns.append(alias.c.title.label(f"{link}_title"))
        return select(*columns).select_from(joined)

    def _plan_subject_query(self, plan_name: str) -> Select[Any]:
        rows = self._table(Doctype.PLAN_SUBJECT)
        order = [rows.c[c] for c in ("sort_order", "idx", "name") if c in rows.c]
        return (
            select(rows)
            .where(_child_of(rows, Doctype.PLAN, "subjects", plan_name))
            .order_by(*order)
        )

    def _plan_subject_names(self, plan_name: str) -> Any:
        rows = self._table(Doctype.PLAN_SUBJECT)
        return (
            select(rows.c.subject)
            .where(_child_of(rows, Doctype.PLAN, "subjects", plan_name))
            .scalar_subquery()
        )

    def _overrides(self, execute: Callable[[Any], Any], plan_name: str) -> Iterable[Override]:
        table = self.tables()[Doctype.PLAN_OVERRIDE]
        if table is None:
            return ()
        order = [table.c[c] for c in ("idx", "name") if c in table.c]
        query = (
            select(table)
            .where(_child_of(table, Doctype.PLAN, "overrides", plan_name))
            .order_by(*order)
        )
        return [
            Override(
                target_doctype=_text(row["target_doctype"]) or "",
                target_name=row["target_name"] or "",
                action=_text(row["action"]) or "",
                value=row.get("override_value"),
                idx=_int(row, "idx", 0) or 0,
            )
            for row in execute(query).mappings()
        ]

    def _orphan_query(self) -> Any:
        """Rows of every level whose parent link is empty or names a missing row."""
        parts: list[Select[Any]] = []
        links: list[tuple[Doctype, str, Doctype]] = [
            (kind.doctype, link, _PARENT_KIND[kind].doctype) for kind, link in _PARENT_LINK.items()
        ]
        links.append((Doctype.LESSON_STAGE, "parent", Doctype.LESSON))
        for doctype, link, parent_doctype in links:
            child = self._table(doctype).alias("c")
            parent = self._table(parent_doctype).alias("p")
            missing = ~exists().where(parent.c.name == child.c[link])
            query = select(
                literal(doctype.value).label("doctype"),
                child.c.name.label("name"),
                literal(parent_doctype.value).label("parent_doctype"),
                child.c[link].label("parent"),
            ).where(or_(child.c[link].is_(None), child.c[link] == "", missing))
            if doctype in CHILD_TABLES:
                # Rows of the same child doctype under another parent are not ours.
                query = query.where(child_kind(child, *CHILD_TABLES[doctype]))
            parts.append(query)
        return union_all(*parts)


def _orphan(row: Any) -> str:
    if row.parent:
        problem = f"parent {row.parent_doctype} {row.parent!r} not found"
    else:
        problem = f"no parent {row.parent_doctype} set"
    return f"{row.doctype} {row.name!r}: {problem}; skipped (orphan)"


def _child_of(table: Table, parent: Doctype, field: str, name: str) -> ColumnElement[bool]:
    """Rows of a child table that belong to one parent document's field."""
    return and_(table.c.parent == name, child_kind(table, parent, field))


def child_kind(table: Any, parent: Doctype, field: str) -> ColumnElement[bool]:
    """Rows of a child table that belong to `field` of a `parent` doctype (NULL: tolerated)."""
    condition: ColumnElement[bool] = true()
    for column, value in (("parenttype", parent.value), ("parentfield", field)):
        if column in table.c:
            condition = and_(condition, or_(table.c[column].is_(None), table.c[column] == value))
    return condition


_FIELD_DEFAULTS: dict[Doctype, dict[str, Field]] = {
    doctype: {f.name: f for f in fields} for doctype, fields in FIELDS.items()
}


def _text(value: object) -> str | None:
    """A text value, or None when empty: optional fields are omitted, never null."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _check(row: Mapping[Any, Any], column: str, default: int) -> bool:
    value = row.get(column)
    return bool(default if value is None else int(value))


def _int(row: Mapping[Any, Any], column: str, default: int | None) -> int | None:
    value = row.get(column)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _plan(row: Mapping[Any, Any]) -> Plan:
    return Plan(
        name=row["name"],
        title=_text(row.get("title")) or row["name"],
        season=_text(row.get("season_title")) or _text(row.get("season")),
        grade=_text(row.get("grade_title")) or _text(row.get("grade")),
        stream=_text(row.get("stream_title")) or _text(row.get("stream")),
        is_published=_check(row, "is_published", 1),
    )


def _node(kind: NodeKind, row: Mapping[Any, Any]) -> Node:
    defaults = _FIELD_DEFAULTS[kind.doctype]

    def flag(column: str) -> bool:
        field = defaults.get(column)
        if field is None:
            return False
        return _check(row, column, 1 if field.default == 1 else 0)

    link = _PARENT_LINK.get(kind)
    return Node(
        kind=kind,
        name=row["name"],
        title=_text(row.get("title")) or row["name"],
        parent=row.get(link) if link else None,
        description=_text(row.get("description")),
        image=_text(row.get("image")),
        sort_order=_int(row, "sort_order", 0) or 0,
        is_published=flag("is_published"),
        is_free_preview=flag("is_free_preview"),
        is_linear=flag("is_linear"),
        color_code=_text(row.get("color_code")),
        badge_image=_text(row.get("badge_image")),
        is_public=flag("is_public"),
        required_item=_text(row.get("required_item")),
        is_sold_separately=flag("is_sold_separately"),
        parent_item_required=flag("parent_item_required"),
    )


def _stage(row: Mapping[Any, Any]) -> Stage:
    weight = row.get("weight")
    return Stage(
        lesson=row["parent"],
        idx=_int(row, "idx", 0) or 0,
        name=row["name"],
        title=_text(row.get("title")) or "",
        type=_text(row.get("type")) or "",
        weight=1.0 if weight is None else float(weight),
        target_time=_int(row, "target_time", None),
        is_skippable=_check(row, "is_skippable", 0),
        config=row.get("config"),
    )
