"""The output layout (SPEC §3): which key each document lives at, and back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, unquote


class DocKind(StrEnum):
    """The kinds of document a plan publishes, in upload order (children first)."""

    LESSON = "lesson"
    UNIT = "unit"
    SUBJECT = "subject"
    SEARCH_SHARD = "search_shard"
    SEARCH_INDEX = "search_index"
    MANIFEST = "manifest"

    @property
    def upload_rank(self) -> int:
        return _ORDER.index(self)


_ORDER = list(DocKind)


def segment(name: str) -> str:
    """A document name as one path segment."""
    return quote(name, safe="")


def plan_prefix(plan: str) -> str:
    return f"plans/{segment(plan)}/"


def manifest_key(plan: str) -> str:
    return f"{plan_prefix(plan)}manifest.json"


def subject_key(plan: str, subject: str) -> str:
    return f"{plan_prefix(plan)}subjects/{segment(subject)}.json"


def unit_key(plan: str, unit: str) -> str:
    return f"{plan_prefix(plan)}units/{segment(unit)}.json"


def lesson_key(plan: str, lesson: str) -> str:
    return f"{plan_prefix(plan)}lessons/{segment(lesson)}.json"


def search_index_key(plan: str) -> str:
    return f"{plan_prefix(plan)}search_index.json"


def search_shard_key(plan: str, subject: str, part: int | None = None) -> str:
    suffix = "" if part is None else f".{part}"
    return f"{plan_prefix(plan)}search/{segment(subject)}{suffix}.json"


@dataclass(frozen=True, slots=True)
class ParsedKey:
    kind: DocKind
    plan: str
    name: str | None = None
    """The subject, unit or lesson the file is about (None for manifest and search index)."""


_KEY = re.compile(
    r"^plans/(?P<plan>[^/]+)/(?:"
    r"(?P<manifest>manifest\.json)|(?P<search_index>search_index\.json)"
    r"|subjects/(?P<subject>[^/]+)\.json|units/(?P<unit>[^/]+)\.json"
    r"|lessons/(?P<lesson>[^/]+)\.json|search/(?P<shard>[^/]+?)(?:\.\d+)?\.json)$"
)


def parse_key(key: str) -> ParsedKey | None:
    """The document a key (without store prefix) holds, or None if it is not one of ours."""
    match = _KEY.match(key)
    if match is None:
        return None
    plan = unquote(match["plan"])
    if match["manifest"]:
        return ParsedKey(DocKind.MANIFEST, plan)
    if match["search_index"]:
        return ParsedKey(DocKind.SEARCH_INDEX, plan)
    for group, kind in (
        ("subject", DocKind.SUBJECT),
        ("unit", DocKind.UNIT),
        ("lesson", DocKind.LESSON),
        ("shard", DocKind.SEARCH_SHARD),
    ):
        if match[group] is not None:
            return ParsedKey(kind, plan, unquote(match[group]))
    return None  # pragma: no cover - the pattern has no other branch
