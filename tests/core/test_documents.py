"""Document bytes (core/documents.py): stamping versions, content hashes, versioned links."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from memora_cdn.core.documents import Published, finalize, iso_utc, versioned_link
from memora_cdn.core.paths import DocKind

NOW = 1_790_000_000
KEY = "plans/P/lessons/L1.json"
CONTENT = {"lesson_id": "L1", "title": "الدرس الأول", "stages": [{"n": 1}]}


def test_a_new_document_is_stamped_with_the_build_time_before_its_content() -> None:
    document = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW)
    assert (
        document.body
        == (
            '{"schema_version":1,"version":1790000000,"generated_at":"2026-09-21T14:13:20Z",'
            '"lesson_id":"L1","title":"الدرس الأول","stages":[{"n":1}]}'
        ).encode()
    )
    assert (document.key, document.kind, document.version) == (KEY, DocKind.LESSON, NOW)
    assert document.content == json.loads(document.body)
    assert document.size == len(document.body)
    assert document.expires_at is None


def test_the_content_hash_leaves_out_version_and_generated_at() -> None:
    first = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW)
    later = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW + 60)
    assert first.body != later.body
    assert first.content_hash == later.content_hash
    # Canonical JSON: keys sorted at every depth (issue 11 item 5), not the body's order.
    unstamped = '{"lesson_id":"L1","schema_version":1,"stages":[{"n":1}],"title":"الدرس الأول"}'
    assert first.content_hash == hashlib.sha256(unstamped.encode()).hexdigest()


def test_unchanged_content_keeps_the_published_version_and_bytes() -> None:
    first = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW)
    previous = Published(first.content_hash, first.version, first.size)
    again = finalize(KEY, DocKind.LESSON, CONTENT, previous, NOW + 3_600)
    assert (again.version, again.body) == (NOW, first.body)
    assert again.content["generated_at"] == "2026-09-21T14:13:20Z"


def test_changed_content_takes_the_build_time_as_its_version() -> None:
    first = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW)
    previous = Published(first.content_hash, first.version, first.size)
    changed = finalize(KEY, DocKind.LESSON, {**CONTENT, "title": "New"}, previous, NOW + 60)
    assert changed.version == NOW + 60
    assert changed.content["generated_at"] == "2026-09-21T14:14:20Z"
    assert changed.content_hash != first.content_hash


def test_the_expiry_of_signed_urls_travels_with_the_document() -> None:
    document = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW, expires_at=NOW + 900)
    assert document.expires_at == NOW + 900
    assert "expires_at" not in document.content  # known to the index, not written in the file


def test_generated_at_is_utc_to_the_second() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(NOW) == "2026-09-21T14:13:20Z"


def test_a_versioned_link_is_relative_and_carries_12_hex_of_the_targets_body() -> None:
    lesson = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW)
    assert versioned_link("plans/P/units/U1.json", lesson) == (
        f"../lessons/L1.json?v={hashlib.sha256(lesson.body).hexdigest()[:12]}"
    )
    moved = finalize(KEY, DocKind.LESSON, CONTENT, None, NOW + 1)
    assert versioned_link("plans/P/units/U1.json", moved) != versioned_link(
        "plans/P/units/U1.json", lesson
    )  # new bytes (a new version), a new link


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(deadline=None)
@given(
    content=st.dictionaries(
        st.text(max_size=8).filter(
            lambda k: k not in ("schema_version", "version", "generated_at")
        ),
        JSON,
        max_size=6,
    ),
    later=st.integers(min_value=1, max_value=10**6),
)
def test_stamping_any_content_again_later_changes_nothing(
    content: dict[str, Any], later: int
) -> None:
    first = finalize(KEY, DocKind.UNIT, content, None, NOW)
    previous = Published(first.content_hash, first.version, first.size)
    again = finalize(KEY, DocKind.UNIT, content, previous, NOW + later)
    assert again.body == first.body
    assert json.loads(first.body) == {
        "schema_version": 1,
        "version": NOW,
        "generated_at": iso_utc(NOW),
        **content,
    }
