"""The plan's search index (SPEC §3): one file, or shards by subject past the threshold."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from memora_cdn.core import paths
from memora_cdn.core.documents import Document, dumps, stamp, versioned_link
from memora_cdn.core.paths import DocKind

Finalize = Callable[[str, DocKind, Mapping[str, Any]], Document]


@dataclass(frozen=True, slots=True)
class SearchEntry:
    """One lesson as the search index lists it."""

    lesson_id: str
    lesson_title: str
    topic_id: str
    unit_id: str
    unit_title: str
    subject_id: str
    subject_title: str
    access_level: str
    lesson: Document
    """The lesson's file: the entry links it with its `?v=` (SPEC §3: a lesson edit rewrites
    its search shard, and only that shard, the index and the manifest)."""

    def row(self, holder_key: str) -> dict[str, Any]:
        """The entry as written in the file at `holder_key`: its link is relative to it."""
        return {
            "lesson_id": self.lesson_id,
            "lesson_title": self.lesson_title,
            "topic_id": self.topic_id,
            "unit_id": self.unit_id,
            "unit_title": self.unit_title,
            "subject_id": self.subject_id,
            "subject_title": self.subject_title,
            "access_level": self.access_level,
            "url": versioned_link(holder_key, self.lesson),
        }


def render_search(
    plan: str,
    entries: Sequence[SearchEntry],
    *,
    subject_titles: Mapping[str, str],
    finalize: Finalize,
    shard_threshold: int,
    shard_max_bytes: int,
    now: int,
) -> list[Document]:
    """The search documents of a plan, shards first and the index last."""
    index_key = paths.search_index_key(plan)
    if len(entries) <= shard_threshold:
        content = {
            "plan_id": plan,
            "total_lessons": len(entries),
            "is_sharded": False,
            "entries": [entry.row(index_key) for entry in entries],
        }
        return [finalize(index_key, DocKind.SEARCH_INDEX, content)]

    documents: list[Document] = []
    shards: list[dict[str, Any]] = []
    for subject, group in groupby(entries, key=lambda entry: entry.subject_id):
        listed = list(group)
        whole = paths.search_shard_key(plan, subject)
        parts = split_entries(plan, subject, [e.row(whole) for e in listed], shard_max_bytes, now)
        if len(parts) > 1:
            # Links from a part (`search/S/1.json`) climb one folder more: measure them so.
            part_key = paths.search_shard_key(plan, subject, 1)
            rows = [entry.row(part_key) for entry in listed]
            parts = split_entries(plan, subject, rows, shard_max_bytes, now)
        for number, part in enumerate(parts, start=1):
            key = paths.search_shard_key(plan, subject, number if len(parts) > 1 else None)
            shard = finalize(
                key, DocKind.SEARCH_SHARD, {"plan_id": plan, "subject_id": subject, "entries": part}
            )
            documents.append(shard)
            shards.append(
                {
                    "subject_id": subject,
                    "subject_title": subject_titles.get(subject, subject),
                    "lesson_count": len(part),
                    "url": versioned_link(index_key, shard),
                }
            )
    content = {
        "plan_id": plan,
        "total_lessons": len(entries),
        "is_sharded": True,
        "shards": shards,
    }
    documents.append(finalize(index_key, DocKind.SEARCH_INDEX, content))
    return documents


def split_entries(
    plan: str,
    subject: str,
    entries: list[dict[str, Any]],
    max_bytes: int,
    now: int,
) -> list[list[dict[str, Any]]]:
    """Entries packed in order into as few shard files as keep each within `max_bytes`.

    Sizes are exact: the shard's fixed part is measured with the build time as its version,
    the largest version a shard can carry. An entry too large for any shard gets a shard of
    its own, which then fails validation rather than being dropped.
    """
    overhead = len(dumps(stamp({"plan_id": plan, "subject_id": subject, "entries": []}, now)))
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = overhead
    for entry in entries:
        entry_size = len(dumps(entry)) + (1 if current else 0)
        if current and size + entry_size > max_bytes:
            parts.append(current)
            current, size = [], overhead
            entry_size -= 1
        current.append(entry)
        size += entry_size
    if current or not parts:
        parts.append(current)
    return parts
