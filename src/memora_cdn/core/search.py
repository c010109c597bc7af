"""The plan's search index (SPEC §3): one file, or shards by subject past the threshold."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import groupby
from typing import Any

from memora_cdn.core import paths
from memora_cdn.core.documents import SCHEMA_VERSION, Document, dumps, iso_utc, versioned_link
from memora_cdn.core.paths import DocKind

Finalize = Callable[[str, DocKind, Mapping[str, Any]], Document]


@dataclass(frozen=True, slots=True)
class SearchEntry:
    lesson_id: str
    lesson_title: str
    topic_id: str
    unit_id: str
    unit_title: str
    subject_id: str
    subject_title: str
    access_level: str
    url: str
    """Unversioned: a lesson's content change must not rewrite the whole index."""


def render_search(
    plan: str,
    entries: Sequence[SearchEntry],
    *,
    subject_titles: Mapping[str, str],
    finalize: Finalize,
    link_prefix: str,
    shard_threshold: int,
    shard_max_bytes: int,
    now: int,
) -> list[Document]:
    """The search documents of a plan, shards first and the index last."""
    rows = [asdict(entry) for entry in entries]
    index_key = paths.search_index_key(plan)
    if len(rows) <= shard_threshold:
        content = {
            "plan_id": plan,
            "total_lessons": len(rows),
            "is_sharded": False,
            "entries": rows,
        }
        return [finalize(index_key, DocKind.SEARCH_INDEX, content)]

    documents: list[Document] = []
    shards: list[dict[str, Any]] = []
    for subject, group in groupby(rows, key=lambda row: row["subject_id"]):
        parts = split_entries(plan, subject, list(group), shard_max_bytes, now)
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
                    "url": versioned_link(link_prefix, shard),
                }
            )
    content = {"plan_id": plan, "total_lessons": len(rows), "is_sharded": True, "shards": shards}
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
    empty = {
        "schema_version": SCHEMA_VERSION,
        "version": now,
        "generated_at": iso_utc(now),
        "plan_id": plan,
        "subject_id": subject,
        "entries": [],
    }
    overhead = len(dumps(empty))
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
