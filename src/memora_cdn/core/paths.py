"""Output keys (SPEC §3); a long name keeps the whole characters that fit 150 quoted bytes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from urllib.parse import quote, unquote

MAX_SEGMENT_BYTES = 200
"""A quoted name up to this long is its segment as it is; a longer one is cut and hashed."""
CUT_BYTES = 150
HASH_HEX = 16
MAX_NAME_BYTES = 255
"""The longest file name a file system holds, hence the longest segment a store accepts."""
MAX_KEY_BYTES = 1_024
"""The longest key S3 and R2 accept (store prefix included)."""


class DocKind(StrEnum):
    """The kinds of document published: a plan's in upload order (children first), then the
    store's list of plans (`plans.json`, written after the manifests it links)."""

    LESSON = "lesson"
    UNIT = "unit"
    SUBJECT = "subject"
    SEARCH_SHARD = "search_shard"
    SEARCH_INDEX = "search_index"
    MANIFEST = "manifest"
    PLANS = "plans"

    @property
    def upload_rank(self) -> int:
        return _ORDER.index(self)


_ORDER = list(DocKind)


def segment(name: str) -> str:
    """A document name as one path segment: percent-encoded, cut and hashed when long."""
    quoted = quote(name, safe="")
    if len(quoted) <= MAX_SEGMENT_BYTES:
        return quoted
    kept: list[str] = []
    size = 0
    for char in name:
        piece = quote(char, safe="")
        if size + len(piece) > CUT_BYTES:
            break
        kept.append(piece)
        size += len(piece)
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:HASH_HEX]
    return f"{''.join(kept)}~{digest}"


def readable(segment: str) -> str:
    """A segment as a reader knows it: the name, or for a long name its start and `~hash`."""
    return unquote(segment)


PLANS_KEY = "plans.json"
"""The store's list of published plans, at the store root."""
SCHEMAS_PREFIX = "schemas/v1/"
"""Where every store holds the JSON Schemas of the documents, for app developers."""


def schema_key(kind: DocKind) -> str:
    """Where every store holds the JSON Schema of one kind of document."""
    return f"{SCHEMAS_PREFIX}{kind.value}.schema.json"


def plan_prefix(plan: str) -> str:
    """The folder of a plan's documents."""
    return f"plans/{segment(plan)}/"


def manifest_key(plan: str) -> str:
    """The key of a plan's manifest."""
    return f"{plan_prefix(plan)}manifest.json"


def subject_key(plan: str, subject: str) -> str:
    """The key of a subject's document in a plan."""
    return f"{plan_prefix(plan)}subjects/{segment(subject)}.json"


def unit_key(plan: str, unit: str) -> str:
    """The key of a unit's document in a plan."""
    return f"{plan_prefix(plan)}units/{segment(unit)}.json"


def lesson_key(plan: str, lesson: str) -> str:
    """The key of a lesson's document in a plan."""
    return f"{plan_prefix(plan)}lessons/{segment(lesson)}.json"


def search_index_key(plan: str) -> str:
    """The key of a plan's search index."""
    return f"{plan_prefix(plan)}search_index.json"


def search_shard_key(plan: str, subject: str, part: int | None = None) -> str:
    """`search/{subject}.json`, or for a subject split in parts `search/{subject}/{part}.json`."""
    if part is None:
        return f"{plan_prefix(plan)}search/{segment(subject)}.json"
    return f"{plan_prefix(plan)}search/{segment(subject)}/{part}.json"


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """What a key says of its document. A long name cannot be read back from its cut and
    hashed segment, so a key is matched against names with `in_plan` and `is_named`."""

    kind: DocKind
    plan_segment: str
    name_segment: str | None = None
    """The segment of the subject, unit or lesson the file is about (a shard's subject);
    None for the manifest and the search index."""
    part: int | None = None
    """The part number of a search shard of a subject split in parts."""

    def in_plan(self, plan: str) -> bool:
        return self.plan_segment == segment(plan)

    def is_named(self, name: str) -> bool:
        return self.name_segment == segment(name)


_KEY = re.compile(
    r"^plans/(?P<plan>[^/]+)/(?:"
    r"(?P<manifest>manifest\.json)|(?P<search_index>search_index\.json)"
    r"|subjects/(?P<subject>[^/]+)\.json|units/(?P<unit>[^/]+)\.json"
    r"|lessons/(?P<lesson>[^/]+)\.json|search/(?P<shard>[^/]+)\.json"
    r"|search/(?P<split>[^/]+)/(?P<part>[1-9][0-9]*)\.json)$"
)


def parse_key(key: str) -> ParsedKey | None:
    """The document a key (without store prefix) holds, or None if it is not one of ours."""
    match = _KEY.match(key)
    if match is None:
        return None
    plan = match["plan"]
    if match["manifest"]:
        return ParsedKey(DocKind.MANIFEST, plan)
    if match["search_index"]:
        return ParsedKey(DocKind.SEARCH_INDEX, plan)
    if match["split"] is not None:
        return ParsedKey(DocKind.SEARCH_SHARD, plan, match["split"], int(match["part"]))
    for group, kind in (
        ("subject", DocKind.SUBJECT),
        ("unit", DocKind.UNIT),
        ("lesson", DocKind.LESSON),
        ("shard", DocKind.SEARCH_SHARD),
    ):
        if match[group] is not None:
            return ParsedKey(kind, plan, match[group])
    return None  # pragma: no cover - the pattern has no other branch


Owner = TypeVar("Owner")


def first_clash(
    placed: Iterable[tuple[str, Owner]],
) -> tuple[tuple[str, Owner], tuple[str, Owner]] | None:
    """The first two (key, owner) that cannot both be stored, or None.

    Two keys clash when they are equal, or when one is the folder of the other (a folder
    store cannot hold `a.json` as a file and `a.json/1.json`); the pair comes in that order.
    """
    owners: dict[str, Owner] = {}
    for key, owner in placed:
        if key in owners:
            return (key, owners[key]), (key, owner)
        owners[key] = owner
    for key, owner in owners.items():
        folder = key.rpartition("/")[0]
        while folder:
            if folder in owners:
                return (folder, owners[folder]), (key, owner)
            folder = folder.rpartition("/")[0]
    return None
