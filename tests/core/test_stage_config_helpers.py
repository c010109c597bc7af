"""The stage-config helpers of rendering: strict JSON (core/strict_json.py), unsigned media
URLs (core/media_urls.py) and colliding keys (core/key_clash.py), called directly."""

from __future__ import annotations

from typing import Any

import pytest

from memora_cdn.core.documents import Document
from memora_cdn.core.key_clash import check_keys
from memora_cdn.core.media_urls import holds_url
from memora_cdn.core.paths import DocKind, lesson_key, unit_key
from memora_cdn.core.strict_json import reject_constant, strict_json_object
from memora_cdn.errors import KeyCollisionError


def test_a_strict_json_object_is_returned_as_parsed_with_no_problem() -> None:
    text = '{"video": {"url": "https://v/1"}, "n": 9223372036854775807, "x": 1.5}'
    assert strict_json_object(text) == (
        {"video": {"url": "https://v/1"}, "n": 2**63 - 1, "x": 1.5},
        None,
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1]", "is JSON but not an object"),
        ("{", "is not valid JSON (Expecting property name enclosed in double quotes:"
              " line 1 column 2 (char 1))"),
        ('{"a": Infinity}', "is not valid JSON (Infinity is not a JSON number)"),
    ],
    ids=["array", "truncated", "infinity"],
)  # fmt: skip
def test_a_config_that_is_not_a_strict_json_object_is_empty_and_says_why(
    text: str, problem: str
) -> None:
    assert strict_json_object(text) == ({}, problem)


def test_reject_constant_names_the_constant_it_refuses() -> None:
    with pytest.raises(ValueError, match=r"^NaN is not a JSON number$"):
        reject_constant("NaN")


KEYS = frozenset({"url", "src"})


@pytest.mark.parametrize(
    ("config", "holds"),
    [
        ({"url": "https://cdn.example/v.mp4"}, True),
        ({"src": " S3://bucket/a.mp3 "}, True),
        ({"blocks": [{"media": {"url": "http://h/x"}}]}, True),
        ({"url": "/relative/v.mp4"}, False),
        ({"url": "https://"}, False),
        ({"url": "ftp://h/x"}, False),
        ({"url": "http://[::1"}, False),
        ({"href": "https://h/x"}, False),
        ({"url": 42}, False),
        (["https://h/x"], False),
    ],
    ids=["https", "s3-spaced", "nested", "relative", "no-host", "ftp", "bad-ipv6",
         "other-key", "not-a-string", "bare-list-item"],
)  # fmt: skip
def test_holds_url_finds_absolute_urls_under_the_signed_keys_only(config: Any, holds: bool) -> None:
    assert holds_url(config, KEYS) is holds


def _document(key: str, kind: DocKind, name: str) -> Document:
    return Document(key, kind, b"{}", "0" * 64, 1, {"id": name})


def test_distinct_keys_pass_the_collision_check() -> None:
    check_keys("P", [_document(lesson_key("P", "L1"), DocKind.LESSON, "L1")])


def test_two_documents_on_one_key_are_a_collision_naming_both() -> None:
    key = unit_key("P", "U")
    with pytest.raises(KeyCollisionError) as caught:
        check_keys("P", [_document(key, DocKind.UNIT, "U"), _document(key, DocKind.UNIT, "U ")])
    assert (caught.value.first, caught.value.second) == ("unit 'U'", "unit 'U '")
    assert caught.value.key == caught.value.second_key == key
