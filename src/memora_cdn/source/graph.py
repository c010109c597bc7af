"""The catalogue's links, one row at a time: what change tracking asks of the source (SPEC §5).

`SqlCatalogueGraph` reuses the `SqlSource`'s reflected tables (so a drifted site reads the
same way) and answers each question with one small query on an indexed column: a primary
key, a parent link, a plan subject's `subject`, or a plan's season/grade/stream.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, select

from memora_cdn.core.events import PARENT_LINKS
from memora_cdn.core.model import Doctype
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


def _name(value: object) -> str | None:
    """A link value as a name; None when empty."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None
