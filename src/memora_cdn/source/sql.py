"""Read a plan's snapshot from the Frappe-layout tables with a fixed number of queries.
Design notes: docs/decisions/source-adapter.md"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
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
    Orphan,
    Override,
    Plan,
    Snapshot,
)
from memora_cdn.errors import SourceSchemaError
from memora_cdn.source.rows import RowReader, plain_name, tolerant_text
from memora_cdn.source.schema import CHILD_TABLES, DELETED_DOCUMENT, FIELDS

_PARENT_LINK: dict[NodeKind, str] = {
    kind: PARENT_LINKS[kind.doctype][0] for kind in NodeKind if kind is not NodeKind.SUBJECT
}
_PARENT_KIND: dict[NodeKind, NodeKind] = {
    child: kind for kind in NodeKind if (child := kind.child) is not None
}
_ORPHAN_LOOKUP_LIMIT = 2000
"""Past this many vanished members, one site-wide orphan query beats a long `IN` list."""

_OPTIONAL_TABLES = frozenset({Doctype.SEASON, Doctype.GRADE, Doctype.STREAM, Doctype.PLAN_OVERRIDE})


class SqlSource:
    """The content tables of one database (SQLite, MariaDB or PostgreSQL), read only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tables: dict[Doctype, Table | None] | None = None
        self._columns: dict[str, frozenset[str]] = {}
        """Every column of each table present, by table name (as reflected, once)."""

    # -- schema discovery -------------------------------------------------------------

    def tables(self) -> Mapping[Doctype, Table | None]:
        """Reflected tables (None for a missing optional one); checked once, then cached."""
        if self._tables is None:
            self._tables = self._reflect()
        return self._tables

    def columns(self, table: str) -> frozenset[str] | None:
        """Every column of a content table or of `tabDeleted Document`, as reflected with
        `tables()`; None when the table is absent."""
        self.tables()
        return self._columns.get(table)

    def _reflect(self) -> dict[Doctype, Table | None]:
        inspector = inspect(self.engine)
        present = set(inspector.get_table_names())
        found: dict[Doctype, Table | None] = {}
        metadata = MetaData()
        if DELETED_DOCUMENT in present:
            deleted = inspector.get_columns(DELETED_DOCUMENT)
            self._columns[DELETED_DOCUMENT] = frozenset(c["name"] for c in deleted)
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
            self._columns[doctype.table] = frozenset(columns)
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
        """Every academic plan, published or not, by name (rows whose name is not text are
        left out: no key could name them)."""
        plan = self._table(Doctype.PLAN)
        with self._connect() as conn:
            rows = conn.execute(select(plan.c.name).order_by(plan.c.name))
            return [name for row in rows if (name := plain_name(row[0])) is not None]

    def plans(self) -> list[Plan]:
        """Every academic plan, published or not, with its titles (one query; rows whose name
        is not text are left out, as in `plan_names`; bad values are repaired silently here,
        their warnings belong to the plan's own build)."""
        reader = RowReader()
        with self._connect() as conn:
            return [
                reader.plan(row, name)
                for row in conn.execute(self._plans_query()).mappings()
                if (name := plain_name(row.get("name"))) is not None
            ]

    def load(
        self, plan_name: str, published: Collection[tuple[str, str]] = frozenset()
    ) -> Snapshot | None:
        """The plan's snapshot, or None when no such plan exists.

        `published` is what the plan's last publish included (doctype, name): the orphans
        among those are warnings of this plan; the site-wide list is `orphans()`.
        """
        reader = RowReader()
        with self._connect() as conn:
            plan_row = conn.execute(self._plan_query(plan_name)).mappings().first()
            if plan_row is None:
                return None
            plan = reader.plan(plan_row, plan_name)
            if not plan.is_published:
                return Snapshot(plan=plan, warnings=tuple(reader.warnings))
            subject_names = self._plan_subject_names(plan_name)
            plan_subjects = tuple(
                subject
                for row in conn.execute(self._plan_subject_query(plan_name)).mappings()
                if (subject := reader.plan_subject(row)) is not None
            )
            overrides = tuple(self._overrides(conn.execute, plan_name, reader))
            nodes: list[Node] = []
            scope = subject_names
            for kind in NodeKind:
                table = self._table(kind.doctype)
                if kind is NodeKind.SUBJECT:
                    where = table.c.name.in_(scope)
                else:
                    where = table.c[_PARENT_LINK[kind]].in_(scope)
                rows = conn.execute(select(table).where(where)).mappings()
                nodes.extend(node for row in rows if (node := reader.node(kind, row)) is not None)
                scope = select(table.c.name).where(where).scalar_subquery()
            stages_table = self._table(Doctype.LESSON_STAGE)
            stages = tuple(
                stage
                for row in conn.execute(
                    select(stages_table).where(
                        stages_table.c.parent.in_(scope),
                        child_kind(stages_table, Doctype.LESSON, "stages"),
                    )
                ).mappings()
                if (stage := reader.stage(row)) is not None
            )
            loaded = {(node.kind.doctype.value, node.name) for node in nodes}
            loaded.update((Doctype.LESSON_STAGE.value, stage.name) for stage in stages)
            # Only a published row that is no longer loaded (deleted, moved or orphaned) can
            # be an orphan of this plan: look those up, not the whole catalogue.
            gone = [member for member in published if member not in loaded]
            if gone:
                orphans = self._orphans(conn, gone if len(gone) <= _ORPHAN_LOOKUP_LIMIT else None)
                reader.warnings += [o.warning() for o in orphans if o.member in published]
        return Snapshot(
            plan=plan,
            subjects=plan_subjects,
            overrides=overrides,
            nodes=tuple(nodes),
            stages=stages,
            warnings=tuple(reader.warnings),
        )

    def orphans(self) -> list[Orphan]:
        """Every orphan row of the site (a row whose parent is missing), sorted."""
        with self._connect() as conn:
            return self._orphans(conn)

    def _orphans(
        self, conn: Connection, among: Collection[tuple[str, str]] | None = None
    ) -> list[Orphan]:
        """The orphan rows of the site, or only among these (doctype, name) members."""
        query = self._orphan_query(among)
        if query is None:  # none of `among` is a node or a stage
            return []
        found = []
        for row in conn.execute(query):
            name = plain_name(row.name)
            if name is not None:
                parent = plain_name(row.parent)
                found.append(
                    Orphan(Doctype(row.doctype), name, Doctype(row.parent_doctype), parent or None)
                )
        return sorted(found, key=lambda o: (o.doctype.value, o.name))

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # A SQLite TEXT value may hold any bytes: read invalid UTF-8 as lone
                # surrogates (repaired with a warning) instead of failing the whole read.
                raw: Any = conn.connection.dbapi_connection
                raw.text_factory = tolerant_text
            yield conn

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

    def _overrides(
        self, execute: Callable[[Any], Any], plan_name: str, reader: RowReader
    ) -> Iterable[Override]:
        table = self.tables()[Doctype.PLAN_OVERRIDE]
        if table is None:
            return ()
        order = [table.c[c] for c in ("idx", "name") if c in table.c]
        query = (
            select(table)
            .where(_child_of(table, Doctype.PLAN, "overrides", plan_name))
            .order_by(*order)
        )
        return [reader.override(row) for row in execute(query).mappings()]

    def _orphan_query(self, among: Collection[tuple[str, str]] | None) -> Any | None:
        """Rows of every level (or only these members) whose parent link is empty or names a
        missing row."""
        names: dict[str, list[str]] = {}
        for doctype_name, name in among or ():
            names.setdefault(doctype_name, []).append(name)
        parts: list[Select[Any]] = []
        links: list[tuple[Doctype, str, Doctype]] = [
            (kind.doctype, link, _PARENT_KIND[kind].doctype) for kind, link in _PARENT_LINK.items()
        ]
        links.append((Doctype.LESSON_STAGE, "parent", Doctype.LESSON))
        for doctype, link, parent_doctype in links:
            if among is not None and doctype.value not in names:
                continue
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
            if among is not None:
                query = query.where(child.c.name.in_(names[doctype.value]))
            parts.append(query)
        return union_all(*parts) if parts else None


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
