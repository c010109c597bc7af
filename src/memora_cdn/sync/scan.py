"""`memora-cdn scan`: change events read from the site database itself (SPEC §5).
Design notes: docs/decisions/scan.md"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    DateTime,
    MetaData,
    Table,
    and_,
    or_,
    select,
    true,
)

from memora_cdn.core.events import Action, ChangeEvent
from memora_cdn.core.model import Doctype
from memora_cdn.errors import SourceSchemaError
from memora_cdn.publish import Clock
from memora_cdn.source.schema import CHILD_TABLES, DELETED_DOCUMENT, FIELDS
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.scan_state import ScanMark, ScanMarks

__all__ = ["DEFAULT_OVERLAP", "ScanResult", "Scanner"]

DEFAULT_OVERLAP = timedelta(minutes=5)
"""How far behind the newest reported timestamp a late-committed row is still found."""

_STANDARD = ("creation", "modified", "modified_by", "owner", "docstatus")
_STAMPS = frozenset({"creation", "modified"})
_DELETED_REQUIRED = ("name", "creation", "deleted_doctype", "deleted_name")
_DELETED_OPTIONAL = ("data", "restored")
_Row = Mapping[Any, Any]
"""One result row, by column name."""
_FLOATS = {
    doctype: {f.name for f in fields if f.kind == "float"} for doctype, fields in FIELDS.items()
}
_BY_VALUE = {doctype.value.lower(): doctype for doctype in Doctype}


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one scan found; `commit` it once the events are safely queued."""

    events: tuple[ChangeEvent, ...]
    counts: Mapping[str, int]
    """Events per scanned table (a `tabDeleted Document` row counts with its child rows)."""
    marks: tuple[ScanMark, ...]
    """The new state of every table whose state moved (watermark, rows seen at it, names
    reported gone); written by `Scanner.commit`, never by `scan`."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def watermarks(self) -> dict[str, datetime | None]:
        """The new watermark of each table whose state moved."""
        return {mark.scope: mark.watermark for mark in self.marks}


@dataclass(frozen=True, slots=True)
class _Feed:
    """One scanned table: its columns, its timestamp, and the rows that count."""

    scope: str
    table: Table
    stamp: str
    doctype: Doctype | None
    """None for `tabDeleted Document`."""
    where: ColumnElement[bool]


class Scanner:
    """Turns the source database into change events, reading it only."""

    def __init__(
        self,
        source: SqlSource,
        scan_state: ScanMarks,
        clock: Clock,
        *,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        self.source = source
        self.scan_state = scan_state
        self.clock = clock
        self.overlap = overlap
        self._feeds: tuple[_Feed, ...] | None = None

    def run(self, deliver: Callable[[tuple[ChangeEvent, ...]], object]) -> ScanResult:
        """Scan, hand the events to `deliver` (which queues them), then commit."""
        result = self.scan()
        deliver(result.events)
        self.commit(result)
        return result

    def commit(self, result: ScanResult) -> None:
        """Advance the watermarks past what `result` reported."""
        at = datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)
        self.scan_state.save(result.marks, at)

    def scan(self) -> ScanResult:
        feeds = self.feeds()
        marks = self.scan_state.marks()
        members = self.scan_state.members()
        updates: list[ChangeEvent] = []
        deletes: list[ChangeEvent] = []
        warnings: list[str] = []
        counts: dict[str, int] = {}
        new_marks: dict[str, ScanMark] = {}
        deleted: dict[Doctype, set[str]] = {}
        with self.source.engine.connect() as conn:
            for feed in feeds:
                old = marks.get(feed.scope)
                rows, mark = self._changed(conn, feed, old)
                new_marks[feed.scope] = mark
                if feed.doctype is not None:
                    updates += (
                        ChangeEvent(
                            feed.doctype, row["name"], Action.UPDATE, _plain_row(feed.doctype, row)
                        )
                        for row in rows
                    )
                    counts[feed.scope] = len(rows)
                    continue
                found = [e for row in rows for e in _deleted(row, warnings)]
                for event in found:
                    deleted.setdefault(event.doctype, set()).add(event.name)
                deletes += found
                counts[feed.scope] = len(found)
            for feed in feeds:
                if feed.doctype is None:
                    continue
                published = members.get(feed.doctype.value, set())
                missing = self._missing(conn, feed, published)
                mark = new_marks[feed.scope]
                old = marks.get(feed.scope)
                reported = (old.gone if old else frozenset()) | deleted.get(feed.doctype, set())
                silent = sorted(missing - reported)
                deletes += (ChangeEvent(feed.doctype, name, Action.DELETE) for name in silent)
                counts[feed.scope] += len(silent)
                new_marks[feed.scope] = ScanMark(
                    mark.scope, mark.watermark, mark.seen, mark.undated, frozenset(missing)
                )
        moved = tuple(mark for scope, mark in new_marks.items() if marks.get(scope) != mark)
        return ScanResult(tuple(updates + deletes), counts, moved, tuple(warnings))

    # -- the tables ---------------------------------------------------------------------

    def feeds(self) -> tuple[_Feed, ...]:
        """The scanned tables, discovered once (a missing required one is an error)."""
        if self._feeds is None:
            self._feeds = self._discover()
        return self._feeds

    def _discover(self) -> tuple[_Feed, ...]:
        reflected = self.source.tables()  # SourceSchemaError for a missing required table
        metadata = MetaData()
        feeds: list[_Feed] = []
        for doctype in Doctype:
            known = reflected.get(doctype)
            columns = self.source.columns(doctype.table)
            if known is None or columns is None:
                continue
            if "modified" not in columns:
                raise SourceSchemaError(doctype.table, "modified")
            names = [c.name for c in known.c]
            names += [c for c in _STANDARD if c in columns and c not in names]
            table = Table(doctype.table, metadata, *(_column(c) for c in names))
            feeds.append(_Feed(doctype.table, table, "modified", doctype, true()))
        columns = self.source.columns(DELETED_DOCUMENT)
        if columns is not None:
            for column in _DELETED_REQUIRED:
                if column not in columns:
                    raise SourceSchemaError(DELETED_DOCUMENT, column)
            names = [*_DELETED_REQUIRED, *(c for c in _DELETED_OPTIONAL if c in columns)]
            table = Table(DELETED_DOCUMENT, metadata, *(_column(c) for c in names))
            where: ColumnElement[bool] = table.c.deleted_doctype.in_([d.value for d in Doctype])
            if "restored" in table.c:
                where = and_(where, or_(table.c.restored.is_(None), table.c.restored == 0))
            feeds.append(_Feed(DELETED_DOCUMENT, table, "creation", None, where))
        return tuple(feeds)

    # -- reading ------------------------------------------------------------------------

    def _changed(
        self, conn: Connection, feed: _Feed, old: ScanMark | None
    ) -> tuple[list[_Row], ScanMark]:
        """The table's new rows, and its mark once they are reported.

        First the names and timestamps inside the window (cheap), then, when any is new,
        the full rows from the oldest new timestamp on (one range, never a list of names)."""
        table, stamp = feed.table, feed.table.c[feed.stamp]
        if old is None:
            rows: list[_Row] = list(conn.execute(select(table).where(feed.where)).mappings())
            return rows, self._advance(feed.scope, None, rows, feed.stamp, set())
        window = select(table.c.name, stamp).where(feed.where)
        if old.watermark is not None:
            floor = _coarse(old.watermark - self.overlap)
            window = window.where(or_(stamp >= floor, stamp.is_(None)))
        fresh: list[datetime] = []
        undated_now: set[str] = set()
        any_undated = False
        for row_name, row_at in conn.execute(window):
            name, at = str(row_name), _naive(row_at)
            if at is None:
                undated_now.add(name)
            if self._is_new(old, name, at):
                if at is None:
                    any_undated = True
                else:
                    fresh.append(at)
        if not fresh and not any_undated:
            return [], self._advance(feed.scope, old, [], feed.stamp, undated_now)
        ranges: list[ColumnElement[bool]] = []
        if fresh:
            ranges.append(stamp >= _coarse(min(fresh)))
        if any_undated:
            ranges.append(stamp.is_(None))
        query = select(table).where(feed.where, or_(*ranges))
        rows = [
            row
            for row in conn.execute(query).mappings()
            if self._is_new(old, row["name"], _naive(row[feed.stamp]))
        ]
        return rows, self._advance(feed.scope, old, rows, feed.stamp, undated_now)

    def _missing(self, conn: Connection, feed: _Feed, published: set[str]) -> set[str]:
        """Published names no longer in the table: all its names, one index-only read."""
        if not published:
            return set()
        present = {row[0] for row in conn.execute(select(feed.table.c.name))}
        return published - present

    # -- watermarks ---------------------------------------------------------------------

    def _is_new(self, old: ScanMark | None, name: str, at: datetime | None) -> bool:
        """Whether a row (by name and timestamp) was not reported yet."""
        if old is None:
            return True
        if at is None:
            return name not in old.undated
        if old.watermark is None or at > old.watermark:
            return True
        if at < old.watermark - self.overlap:
            return False  # before the window: reported long ago (or missed for good)
        return old.seen.get(name) != at

    def _advance(
        self,
        scope: str,
        old: ScanMark | None,
        rows: Sequence[_Row],
        stamp: str,
        undated_now: set[str],
    ) -> ScanMark:
        seen: dict[str, datetime] = dict(old.seen) if old else {}
        undated = set(old.undated & undated_now) if old else set()
        watermark = old.watermark if old else None
        for row in rows:
            at = _naive(row[stamp])
            if at is None:
                undated.add(row["name"])
                continue
            seen[row["name"]] = at
            if watermark is None or at > watermark:
                watermark = at
        if watermark is not None:
            floor = watermark - self.overlap
            seen = {name: at for name, at in seen.items() if at >= floor}
        gone = old.gone if old else frozenset()
        return ScanMark(scope, watermark, seen, frozenset(undated), gone)


# -- Deleted Document rows ----------------------------------------------------------------


def _deleted(row: _Row, warnings: list[str]) -> Iterable[ChangeEvent]:
    """DELETE events for one `tabDeleted Document` row: the document and its child rows."""
    doctype = _BY_VALUE.get(str(row["deleted_doctype"]).lower())
    if doctype is None:  # matched by a case-insensitive collation only
        return
    before: Mapping[str, Any] = {}
    text = row.get("data")
    if text is not None:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            before = parsed
        else:
            warnings.append(
                f"{DELETED_DOCUMENT} {row['name']!r}: the data of {doctype.value} "
                f"{row['deleted_name']!r} is not a JSON object; deleted without its fields"
            )
    name = row["deleted_name"] or before.get("name")
    if not isinstance(name, str) or not name:
        warnings.append(f"{DELETED_DOCUMENT} {row['name']!r}: no deleted_name; skipped")
        return
    yield ChangeEvent(doctype, name, Action.DELETE, before=before)
    for child, (parent, parentfield) in CHILD_TABLES.items():
        items = before.get(parentfield) if parent is doctype else None
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
                yield ChangeEvent(child, item["name"], Action.DELETE, before=item)


# -- values -------------------------------------------------------------------------------


def _column(name: str) -> Column[Any]:
    return Column(name, DateTime()) if name in _STAMPS else Column(name)


def _coarse(at: datetime) -> datetime:
    """A database-side lower bound: whole seconds, one second early."""
    return at.replace(microsecond=0) - timedelta(seconds=1)


def _naive(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _plain_row(doctype: Doctype, row: _Row) -> dict[str, Any]:
    """A row as JSON-ready values, alike on every backend: timestamps written the way Frappe
    writes them, Float fields as floats (SQLite hands back `1` for `1.0`)."""
    floats = _FLOATS[doctype]
    return {
        str(key): float(value) if key in floats and value is not None else _plain(value)
        for key, value in row.items()
    }


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, time | timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value
