"""Database rows into the core model: every value read as its field's type, or repaired.
Design notes: docs/decisions/source-adapter.md"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from memora_cdn.core.events import PARENT_LINKS
from memora_cdn.core.model import (
    Doctype,
    Node,
    NodeKind,
    Override,
    Plan,
    PlanSubject,
    Stage,
)
from memora_cdn.source.schema import FIELDS

Row = Mapping[Any, Any]

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Whole numbers are read within signed 64 bits (what SQLite holds, and JSON writers accept)."""
_CLOSED_FLAGS = frozenset({"is_published", "is_free_preview", "is_public"})
"""Check fields that open access: a bad value reads as 0 (closed), whatever the default."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_PARENT_LINK: dict[NodeKind, str] = {
    kind: PARENT_LINKS[kind.doctype][0] for kind in NodeKind if kind is not NodeKind.SUBJECT
}
_DEFAULTS = {doctype: {f.name: f.default for f in fields} for doctype, fields in FIELDS.items()}


def tolerant_text(data: bytes) -> str:
    """Decode database text; invalid UTF-8 becomes lone surrogates, repaired on reading."""
    return data.decode("utf-8", "surrogateescape")


def plain_name(value: object) -> str | None:
    """A row's name as text, or None when it is no text at all (NULL, invalid UTF-8)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    text = value if isinstance(value, str) else str(value)
    return None if _SURROGATE.search(text) else text


def _shown(value: object) -> str:
    if isinstance(value, Decimal):  # as the number it is, whatever the column's scale
        value = _number(value)
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: object) -> int | float | None:
    """A numeric reading of a value, or None when it is not a number."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        for parse in (int, float):
            try:
                parsed: int | float = parse(text)
            except (ValueError, OverflowError):
                continue
            return parsed
    return None


class RowReader:
    """Reads rows of one snapshot, collecting a warning for each value it repairs."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def _warn(self, doctype: Doctype, name: str, message: str) -> None:
        self.warnings.append(f"{doctype.value} {name!r}: {message}")

    # -- fields ---------------------------------------------------------------------------

    def text(
        self, doctype: Doctype, name: str, row: Row, column: str, field: str | None = None
    ) -> str | None:
        """A text value, or None when empty: optional fields are omitted, never null.
        (`field`: the field's name in its own doctype, when the column is a joined one.)"""
        value = row.get(column)
        if value is None:
            return None
        if isinstance(value, bytes | bytearray | memoryview):
            text = tolerant_text(bytes(value))
        else:
            text = value if isinstance(value, str) else str(value)
        if _SURROGATE.search(text):
            text = _SURROGATE.sub("\ufffd", text)
            self._warn(
                doctype,
                name,
                f"{field or column} is not valid UTF-8 text; invalid characters replaced "
                "with U+FFFD",
            )
        return text if text.strip() else None

    def flag(self, doctype: Doctype, name: str, row: Row, column: str) -> bool:
        """A check field: 0/1, NULL (its default), or anything else (closed, or default)."""
        default = bool(_DEFAULTS[doctype].get(column) or 0)
        if column not in row:
            return default
        value = row[column]
        if value is None:
            if column == "is_published" and doctype is not Doctype.PLAN:
                self._warn(doctype, name, "is_published is NULL; read as 0 (unpublished)")
                return False
            return default
        number = _number(value)
        if number is not None and number in (0, 1):
            return bool(number)
        read = False if column in _CLOSED_FLAGS else default
        self._warn(doctype, name, f"{column} {_shown(value)} is not 0 or 1; read as {int(read)}")
        return read

    def whole(
        self,
        doctype: Doctype,
        name: str,
        row: Row,
        column: str,
        default: int | None,
        *,
        minimum: int = INT_MIN,
    ) -> int | None:
        """A whole number within signed 64 bits (and `minimum`), or `default`."""
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        number = _number(value)
        problem = None
        if number is None:
            problem = "is not a number"
        elif isinstance(number, float) and not math.isfinite(number):
            problem = "is not a finite number"
        elif not minimum <= number <= INT_MAX:
            problem = "is negative" if number < 0 <= minimum else "is out of range"
        if problem is not None:
            read = "left out" if default is None else f"read as {default}"
            self._warn(doctype, name, f"{column} {_shown(value)} {problem}; {read}")
            return default
        assert number is not None
        whole = round(number)
        if whole != number:
            self._warn(doctype, name, f"{column} {_shown(value)} is not whole; read as {whole}")
        return whole

    def amount(self, doctype: Doctype, name: str, row: Row, column: str, default: float) -> float:
        """A finite, non-negative number, or `default`."""
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        number = _number(value)
        try:
            amount = None if number is None else float(number)
        except OverflowError:
            amount = math.inf
        problem = None
        if amount is None:
            problem = "is not a number"
        elif not math.isfinite(amount):
            problem = "is not a finite number"
        elif amount < 0:
            problem = "is negative"
        if problem is not None or amount is None:
            self._warn(doctype, name, f"{column} {_shown(value)} {problem}; read as {default}")
            return default
        return amount

    def config(self, doctype: Doctype, name: str, row: Row) -> str | None:
        """Stage config as text; its JSON is checked when rendered."""
        value = row.get("config")
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return tolerant_text(bytes(value))
        return str(value)

    def name(self, doctype: Doctype, row: Row) -> str | None:
        name = plain_name(row.get("name"))
        if name is None:
            self.warnings.append(
                f"{doctype.value} {_shown(row.get('name'))}: name is not text; skipped"
            )
        return name

    # -- rows -----------------------------------------------------------------------------

    def plan(self, row: Row, asked: str) -> Plan:
        name = plain_name(row.get("name")) or asked
        dt = Doctype.PLAN

        def linked(column: str, doctype: Doctype) -> str | None:
            """The linked row's title, else the link itself."""
            link = self.text(dt, name, row, column)
            title = self.text(doctype, link or "", row, f"{column}_title", "title")
            return title or link

        return Plan(
            name=name,
            title=self.text(dt, name, row, "title") or name,
            season=linked("season", Doctype.SEASON),
            grade=linked("grade", Doctype.GRADE),
            stream=linked("stream", Doctype.STREAM),
            is_published=self.flag(dt, name, row, "is_published"),
        )

    def plan_subject(self, row: Row) -> PlanSubject | None:
        dt = Doctype.PLAN_SUBJECT
        name = self.name(dt, row)
        if name is None:
            return None
        subject = self.text(dt, name, row, "subject")
        if subject is None:
            self._warn(dt, name, "subject is empty; skipped")
            return None
        return PlanSubject(
            subject=subject,
            sort_order=self.whole(dt, name, row, "sort_order", 0) or 0,
            idx=self.whole(dt, name, row, "idx", 0) or 0,
        )

    def override(self, row: Row) -> Override:
        dt = Doctype.PLAN_OVERRIDE
        name = self.name(dt, row) or ""
        return Override(
            target_doctype=self.text(dt, name, row, "target_doctype") or "",
            target_name=self.text(dt, name, row, "target_name") or "",
            action=self.text(dt, name, row, "action") or "",
            value=self.text(dt, name, row, "override_value"),
            idx=self.whole(dt, name, row, "idx", 0) or 0,
        )

    def node(self, kind: NodeKind, row: Row) -> Node | None:
        dt = kind.doctype
        name = self.name(dt, row)
        if name is None:
            return None
        fields = _DEFAULTS[dt]

        def text(column: str) -> str | None:
            return self.text(dt, name, row, column) if column in fields else None

        def flag(column: str) -> bool:
            return self.flag(dt, name, row, column) if column in fields else False

        link = _PARENT_LINK.get(kind)
        return Node(
            kind=kind,
            name=name,
            title=text("title") or name,
            parent=plain_name(row.get(link)) if link else None,
            description=text("description"),
            image=text("image"),
            sort_order=self.whole(dt, name, row, "sort_order", 0) or 0,
            is_published=flag("is_published"),
            is_free_preview=flag("is_free_preview"),
            is_linear=flag("is_linear"),
            color_code=text("color_code"),
            badge_image=text("badge_image"),
            is_public=flag("is_public"),
            required_item=text("required_item"),
            is_sold_separately=flag("is_sold_separately"),
            parent_item_required=flag("parent_item_required"),
        )

    def stage(self, row: Row) -> Stage | None:
        dt = Doctype.LESSON_STAGE
        name = self.name(dt, row)
        lesson = plain_name(row.get("parent"))
        if name is None or lesson is None:
            return None
        return Stage(
            lesson=lesson,
            idx=self.whole(dt, name, row, "idx", 0) or 0,
            name=name,
            title=self.text(dt, name, row, "title") or "",
            type=self.text(dt, name, row, "type") or "",
            weight=self.amount(dt, name, row, "weight", 1.0),
            target_time=self.whole(dt, name, row, "target_time", None, minimum=0),
            is_skippable=self.flag(dt, name, row, "is_skippable"),
            config=self.config(dt, name, row),
        )
