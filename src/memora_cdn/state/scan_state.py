"""Scan watermarks (`cdn_scan_state`) and the member names a scan checks for silent deletes.
Design notes: docs/decisions/scan.md"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, literal, select, union

from memora_cdn.core.model import Doctype
from memora_cdn.state.schema import plan_member, published_object, scan_state, upsert
from memora_cdn.state.tables import StateTables

__all__ = ["ScanMark", "ScanMarks"]

_UPDATED = ("watermark", "seen_names", "updated_at")


@dataclass(frozen=True, slots=True)
class ScanMark:
    """How far one scope (a source table) has been reported."""

    scope: str
    watermark: datetime | None = None
    """The greatest timestamp reported so far; None while no dated row was reported."""
    seen: Mapping[str, datetime] = field(default_factory=dict)
    """Rows reported whose timestamp lies in the overlap window ending at the watermark."""
    undated: frozenset[str] = frozenset()
    """Rows reported that have no timestamp (NULL `modified`)."""
    gone: frozenset[str] = frozenset()
    """Published names reported as deleted without a trace, and still missing."""


class ScanMarks(StateTables):
    """`cdn_scan_state` and the member index, in the state database."""

    # -- watermarks ---------------------------------------------------------------------

    def marks(self) -> dict[str, ScanMark]:
        """Every scope's mark, by scope (one statement)."""
        query = select(scan_state.c.scope, scan_state.c.watermark, scan_state.c.seen_names)
        with self.engine.connect() as conn:
            return {
                row.scope: _mark(row.scope, row.watermark, row.seen_names)
                for row in conn.execute(query)
            }

    def mark(self, scope: str) -> ScanMark | None:
        """One scope's mark; None before its first scan."""
        query = select(scan_state.c.watermark, scan_state.c.seen_names).where(
            scan_state.c.scope == scope
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _mark(scope, row.watermark, row.seen_names)

    def save(self, marks: Iterable[ScanMark], at: datetime) -> None:
        """Write marks, inserting or replacing each scope's row, in one transaction."""
        rows = [
            {
                "scope": mark.scope,
                "watermark": mark.watermark,
                "seen_names": _dump(mark),
                "updated_at": at,
            }
            for mark in marks
        ]
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(upsert(conn.dialect.name, scan_state, _UPDATED), rows)

    # -- members ------------------------------------------------------------------------

    def member_names(self, doctype: str) -> set[str]:
        """Distinct names of `doctype` that some plan's last publish included.

        For the Academic Plan doctype, also every plan with files on record: a plan's own
        name is not among its members, yet deleting it must still remove its folder."""
        query: Any = select(plan_member.c.name).where(plan_member.c.doctype == doctype)
        if doctype == Doctype.PLAN.value:
            query = union(query, select(plan_member.c.plan_id), select(published_object.c.plan_id))
        else:
            query = query.distinct()
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    def members(self) -> dict[str, set[str]]:
        """`member_names` of every doctype at once, by doctype (one statement)."""
        plan = literal(Doctype.PLAN.value, String()).label("doctype")
        query = union(
            select(plan_member.c.doctype, plan_member.c.name),
            select(plan, plan_member.c.plan_id),
            select(plan, published_object.c.plan_id),
        )
        found: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found.setdefault(str(row[0]), set()).add(str(row[1]))
        return found


def _dump(mark: ScanMark) -> str | None:
    if not (mark.seen or mark.undated or mark.gone):
        return None
    body = {
        "seen": {name: _stamp(at) for name, at in sorted(mark.seen.items())},
        "undated": sorted(mark.undated),
        "gone": sorted(mark.gone),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _mark(scope: str, watermark: datetime | None, text: str | None) -> ScanMark:
    """A mark as stored; unreadable `seen_names` only makes the next scan report again."""
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    if isinstance(body, list):  # plain names: the rows reported at the watermark itself
        body = {"seen": dict.fromkeys(body, _stamp(watermark)) if watermark else {}}
    if not isinstance(body, dict):
        body = {}
    seen: dict[str, datetime] = {}
    raw_seen = body.get("seen")
    if isinstance(raw_seen, dict):
        for name, at in raw_seen.items():
            try:
                seen[str(name)] = datetime.fromisoformat(str(at))
            except ValueError:
                continue
    return ScanMark(
        scope=scope,
        watermark=watermark,
        seen=seen,
        undated=_names(body.get("undated")),
        gone=_names(body.get("gone")),
    )


def _names(value: object) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(name) for name in value)
