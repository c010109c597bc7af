"""The catalogue's links, one row at a time: what change tracking asks of the source (SPEC §5).
Design notes: docs/decisions/source-adapter.md"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from more_itertools import chunked
from sqlalchemy import Select, Table, select

from memora_cdn.core.events import PARENT_LINKS
from memora_cdn.core.model import Doctype
from memora_cdn.database import IN_CHUNK
from memora_cdn.source.schema import CHILD_TABLES
from memora_cdn.source.sql import SqlSource, child_kind

__all__ = ["SqlCatalogueGraph"]

_PLAN_LINKS: dict[Doctype, str] = {
    Doctype.SEASON: "season",
    Doctype.GRADE: "grade",
    Doctype.STREAM: "stream",
}


class SqlCatalogueGraph:
    """A `CatalogueGraph` (and document lookup) on the content tables of a `SqlSource`."""

    def __init__(self, source: SqlSource) -> None:
        self.source = source

    def parent(self, doctype: Doctype, name: str) -> str | None:
        """The row's parent link; None for a missing row, an empty link or a foreign child row."""
        link = PARENT_LINKS.get(doctype)
        table = self._table(doctype)
        if link is None or table is None:
            return None
        column, _ = link
        query = select(table.c[column]).where(table.c.name == name)
        if doctype in CHILD_TABLES:
            query = query.where(child_kind(table, *CHILD_TABLES[doctype]))
        return _name(self._scalar(query))

    def plans_with_subject(self, subject: str) -> set[str]:
        """Plans with a Plan Subject row for `subject`, published or not."""
        rows = self._table(Doctype.PLAN_SUBJECT)
        assert rows is not None  # a required table: `SqlSource` refuses a site without it
        query = (
            select(rows.c.parent)
            .distinct()
            .where(rows.c.subject == subject, child_kind(rows, *CHILD_TABLES[Doctype.PLAN_SUBJECT]))
        )
        return self._names(query)

    def parents(self, doctype: Doctype, names: Collection[str]) -> dict[str, str | None]:
        """`parent` of each name, in one query per 500 names. A name the query did not
        return as given (a case-insensitive collation matched another spelling, or no row)
        is asked on its own, so the answer is always `parent`'s."""
        link = PARENT_LINKS.get(doctype)
        table = self._table(doctype)
        if link is None or table is None:
            return dict.fromkeys(names)
        column, _ = link
        found: dict[str, str | None] = {}
        for chunk in _chunks(names):
            query = select(table.c.name, table.c[column]).where(table.c.name.in_(chunk))
            if doctype in CHILD_TABLES:
                query = query.where(child_kind(table, *CHILD_TABLES[doctype]))
            with self.source.engine.connect() as conn:
                rows = conn.execute(query).all()
            found.update((str(row[0]), _name(row[1])) for row in rows)
        return {
            name: found[name] if name in found else self.parent(doctype, name) for name in names
        }

    def plans_with_subjects(self, subjects: Collection[str]) -> dict[str, set[str]]:
        """`plans_with_subject` of each subject, in one query per 500 (a subject the query
        did not return as given is asked on its own, as in `parents`)."""
        rows = self._table(Doctype.PLAN_SUBJECT)
        assert rows is not None  # a required table: `SqlSource` refuses a site without it
        found: dict[str, set[str]] = {}
        for chunk in _chunks(subjects):
            query = (
                select(rows.c.subject, rows.c.parent)
                .distinct()
                .where(
                    rows.c.subject.in_(chunk),
                    child_kind(rows, *CHILD_TABLES[Doctype.PLAN_SUBJECT]),
                )
            )
            with self.source.engine.connect() as conn:
                for subject, plan in conn.execute(query):
                    if (name := _name(plan)) is not None:
                        found.setdefault(str(subject), set()).add(name)
        return {s: found[s] if s in found else self.plans_with_subject(s) for s in subjects}

    def plans_referencing(self, doctype: Doctype, name: str) -> set[str]:
        """Plans whose season, grade or stream (as `doctype` says) is `name`."""
        plan = self._table(Doctype.PLAN)
        column = _PLAN_LINKS.get(doctype)
        if plan is None or column is None or column not in plan.c:
            return set()
        return self._names(select(plan.c.name).where(plan.c[column] == name))

    def document(self, doctype: Doctype, name: str) -> dict[str, Any] | None:
        """The row as it is now (the columns memora-cdn reads), or None when there is none."""
        table = self._table(doctype)
        if table is None:
            return None
        with self.source.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.name == name)).mappings().first()
        return None if row is None else dict(row)

    # -- helpers ------------------------------------------------------------------------

    def _table(self, doctype: Doctype) -> Table | None:
        return self.source.tables()[doctype]

    def _scalar(self, query: Select[Any]) -> object:
        with self.source.engine.connect() as conn:
            return conn.execute(query.limit(1)).scalar()

    def _names(self, query: Select[Any]) -> set[str]:
        with self.source.engine.connect() as conn:
            values: list[object] = list(conn.execute(query).scalars())
        return {name for value in values if (name := _name(value)) is not None}


def _chunks(names: Collection[str]) -> Iterator[list[str]]:
    """The distinct names, sorted, in lists short enough for one `IN (...)`."""
    return chunked(sorted(set(names)), IN_CHUNK)


def _name(value: object) -> str | None:
    """A link value as a name; None when empty."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None
