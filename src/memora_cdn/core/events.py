"""Change events (SPEC §5): what happened to which document, however memora-cdn heard of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from memora_cdn.core.model import Doctype
from memora_cdn.errors import UnknownDoctypeError

__all__ = [
    "CHILD_PARENTS",
    "PARENT_LINKS",
    "Action",
    "ChangeEvent",
    "UnknownDoctypeError",
    "parse_doctype",
]


class Action(StrEnum):
    """What happened to a document."""

    INSERT = "insert"
    UPDATE = "update"
    TRASH = "trash"
    DELETE = "delete"
    RESTORE = "restore"
    RENAME = "rename"

    @property
    def removes(self) -> bool:
        """The document no longer exists afterwards."""
        return self in (Action.TRASH, Action.DELETE)


CHILD_PARENTS: Mapping[Doctype, Doctype] = {
    Doctype.PLAN_SUBJECT: Doctype.PLAN,
    Doctype.PLAN_OVERRIDE: Doctype.PLAN,
    Doctype.LESSON_STAGE: Doctype.LESSON,
}

PARENT_LINKS: Mapping[Doctype, tuple[str, Doctype]] = {
    Doctype.TRACK: ("parent_subject", Doctype.SUBJECT),
    Doctype.UNIT: ("parent_track", Doctype.TRACK),
    Doctype.TOPIC: ("parent_unit", Doctype.UNIT),
    Doctype.LESSON: ("parent_topic", Doctype.TOPIC),
    **{child: ("parent", parent) for child, parent in CHILD_PARENTS.items()},
}
"""For each doctype that has one: its parent link column and the doctype that column names."""


def parse_doctype(value: str) -> Doctype:
    """A doctype by its Frappe name ("Memora Lesson"), its table name, or a short form."""
    text = value.strip().removeprefix("tab")
    for doctype in Doctype:
        if text in (doctype.value, doctype.value.removeprefix("Memora ")):
            return doctype
    raise UnknownDoctypeError(value, sorted(d.value for d in Doctype))


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One document changed: its fields now and before (either may be unknown, then empty)."""

    doctype: Doctype
    name: str
    action: Action
    fields: Mapping[str, Any] = field(default_factory=dict)
    before: Mapping[str, Any] = field(default_factory=dict)
    old_name: str | None = None
