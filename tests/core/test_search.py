"""The search index and its shards (core/search.py): exact packing and the index layout."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from memora_cdn.core import paths
from memora_cdn.core.documents import Document, body_version, finalize
from memora_cdn.core.links import resolve_link
from memora_cdn.core.paths import DocKind
from memora_cdn.core.search import SearchEntry, render_search, split_entries

NOW = 1_790_000_000
INDEX = "plans/P/search_index.json"


def stamp(key: str, kind: DocKind, content: Mapping[str, Any]) -> Document:
    return finalize(key, kind, content, None, NOW)


def entry(lesson: str, subject: str = "S", title: str = "Lesson") -> SearchEntry:
    body = stamp(paths.lesson_key("P", lesson), DocKind.LESSON, {"lesson_id": lesson})
    return SearchEntry(
        lesson_id=lesson,
        lesson_title=title,
        topic_id="T",
        unit_id="U",
        unit_title="Unit",
        subject_id=subject,
        subject_title=f"Title of {subject}",
        access_level="free",
        lesson=body,
    )


def shard_bytes(part: list[dict[str, Any]]) -> int:
    """The size of a shard file holding `part`, stamped as a build at NOW stamps it."""
    content = {"plan_id": "P", "subject_id": "S", "entries": part}
    return stamp(paths.search_shard_key("P", "S"), DocKind.SEARCH_SHARD, content).size


def rows(count: int, width: int = 10) -> list[dict[str, Any]]:
    return [{"lesson_id": f"L{n:03}", "pad": "x" * width} for n in range(count)]


# -- split_entries ------------------------------------------------------------------------


def test_entries_filling_a_shard_to_the_byte_stay_together_and_one_byte_less_splits_them() -> None:
    entries = rows(3)
    exact = shard_bytes(entries[:2])
    assert split_entries("P", "S", entries, exact, NOW) == [entries[:2], entries[2:]]
    assert split_entries("P", "S", entries, exact - 1, NOW) == [[e] for e in entries]


def test_an_entry_larger_than_any_shard_gets_a_shard_of_its_own_and_is_kept() -> None:
    small = rows(2)
    huge = {"lesson_id": "BIG", "pad": "x" * 5_000}
    entries = [small[0], huge, small[1]]
    parts = split_entries("P", "S", entries, 1_000, NOW)
    assert parts == [[small[0]], [huge], [small[1]]]
    assert shard_bytes([huge]) > 1_000


def test_no_entries_make_one_empty_shard() -> None:
    assert split_entries("P", "S", [], 1_000, NOW) == [[]]


def test_sizes_are_measured_in_utf8_bytes_not_characters() -> None:
    arabic = [{"lesson_id": f"L{n}", "title": "عنوان " * 10} for n in range(4)]
    limit = shard_bytes(arabic[:2])
    parts = split_entries("P", "S", arabic, limit, NOW)
    assert parts == [arabic[:2], arabic[2:]]
    assert all(shard_bytes(part) <= limit for part in parts)


@settings(deadline=None)
@given(
    widths=st.lists(st.integers(min_value=0, max_value=400), max_size=40),
    max_bytes=st.integers(min_value=200, max_value=3_000),
)
def test_parts_keep_entry_order_fit_max_bytes_and_are_as_few_as_order_allows(
    widths: list[int], max_bytes: int
) -> None:
    entries = [{"lesson_id": f"L{n:03}", "pad": "é" * w} for n, w in enumerate(widths)]
    parts = split_entries("P", "S", entries, max_bytes, NOW)
    assert [e for part in parts for e in part] == entries
    for part in parts:
        assert shard_bytes(part) <= max_bytes or len(part) == 1
    for before, after in itertools.pairwise(parts):
        # Greedy in order is fewest: the next part's first entry did not fit.
        assert shard_bytes([*before, after[0]]) > max_bytes


# -- render_search ------------------------------------------------------------------------


def render(entries: list[SearchEntry], **options: Any) -> list[Document]:
    defaults: dict[str, Any] = {
        "subject_titles": {"S1": "Science", "S2": "History"},
        "finalize": stamp,
        "shard_threshold": 3,
        "shard_max_bytes": 100_000,
        "now": NOW,
    }
    return render_search("P", entries, **(defaults | options))


def test_entries_up_to_the_threshold_make_one_unsharded_index_linking_each_lesson() -> None:
    entries = [entry(f"L{n}", "S1") for n in range(3)]
    (index,) = render(entries)
    assert (index.key, index.kind) == (INDEX, DocKind.SEARCH_INDEX)
    body = json.loads(index.body)
    assert (body["is_sharded"], body["total_lessons"]) == (False, 3)
    assert [resolve_link(INDEX, row["url"]) for row in body["entries"]] == [
        e.lesson.key for e in entries
    ]
    assert body["entries"][0] == {
        "lesson_id": "L0",
        "lesson_title": "Lesson",
        "topic_id": "T",
        "unit_id": "U",
        "unit_title": "Unit",
        "subject_id": "S1",
        "subject_title": "Title of S1",
        "access_level": "free",
        "url": f"lessons/L0.json?v={body_version(entries[0].lesson.body)}",
    }


def test_one_entry_past_the_threshold_shards_by_subject_with_the_index_last() -> None:
    entries = [entry("A1", "S1"), entry("A2", "S1"), entry("B1", "S2"), entry("C1", "S3")]
    documents = render(entries)
    assert [(d.key, d.kind) for d in documents] == [
        ("plans/P/search/S1.json", DocKind.SEARCH_SHARD),
        ("plans/P/search/S2.json", DocKind.SEARCH_SHARD),
        ("plans/P/search/S3.json", DocKind.SEARCH_SHARD),
        (INDEX, DocKind.SEARCH_INDEX),
    ]
    index = json.loads(documents[-1].body)
    assert (index["is_sharded"], index["total_lessons"]) == (True, 4)
    assert [(s["subject_id"], s["subject_title"], s["lesson_count"]) for s in index["shards"]] == [
        ("S1", "Science", 2),
        ("S2", "History", 1),
        ("S3", "S3", 1),  # a subject without a title is listed by its id
    ]
    assert [resolve_link(INDEX, s["url"]) for s in index["shards"]] == [
        d.key for d in documents[:-1]
    ]
    shard = json.loads(documents[0].body)
    assert [row["lesson_id"] for row in shard["entries"]] == ["A1", "A2"]
    assert resolve_link(documents[0].key, shard["entries"][0]["url"]) == entries[0].lesson.key


def test_a_subject_split_in_parts_links_its_lessons_from_one_folder_deeper() -> None:
    entries = [entry(f"L{n}", "S1", title="عنوان " * 30) for n in range(6)]
    documents = render(entries, shard_threshold=1, shard_max_bytes=1_500)
    shards = documents[:-1]
    assert len(shards) > 1
    assert [d.key for d in shards] == [f"plans/P/search/S1/{n}.json" for n in range(1, 7)][
        : len(shards)
    ]
    assert all(d.size <= 1_500 for d in shards)
    listed = [(shard.key, row) for shard in shards for row in json.loads(shard.body)["entries"]]
    assert [row["lesson_id"] for _, row in listed] == [f"L{n}" for n in range(6)]
    for key, row in listed:
        assert row["url"].startswith("../../lessons/")
        assert resolve_link(key, row["url"]) == paths.lesson_key("P", row["lesson_id"])
