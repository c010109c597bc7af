"""The content hash and the stamp (core/documents.py): one recipe for `finalize`, `verify`
and `publish`, blind to the order of keys."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from memora_cdn.core.documents import (
    Published,
    body_version,
    content_hash,
    dumps,
    finalize,
    iso_utc,
    stamp,
)
from memora_cdn.core.paths import DocKind

NOW = 1_790_000_000

_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=15,
)
_documents = st.dictionaries(st.text(max_size=8), _values, max_size=8)


def shuffled(value: Any, rng: random.Random) -> Any:
    """`value` with the keys of every object in it, at any depth, in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {name: shuffled(item, rng) for name, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


@given(_documents, st.randoms(use_true_random=False))
def test_the_content_hash_ignores_the_order_of_keys_at_every_depth(
    document: dict[str, Any], rng: random.Random
) -> None:
    assert content_hash(shuffled(document, rng)) == content_hash(document)


@given(_documents, st.randoms(use_true_random=False))
def test_a_body_read_back_in_any_key_order_gives_the_hash_finalize_recorded(
    content: dict[str, Any], rng: random.Random
) -> None:
    content = {k: v for k, v in content.items() if k not in ("schema_version", "version")}
    content.pop("generated_at", None)
    document = finalize("k", DocKind.UNIT, content, None, NOW)
    reordered = dumps(shuffled(dict(document.content), rng))
    assert Published.from_body(reordered) == Published(
        document.content_hash, NOW, len(document.body)
    )


def test_the_content_hash_leaves_out_only_version_and_generated_at() -> None:
    bare = {"schema_version": 1, "id": "L1"}
    assert content_hash({**bare, "version": 5, "generated_at": "x"}) == content_hash(bare)
    assert content_hash({**bare, "schema_version": 2}) != content_hash(bare)
    assert content_hash({"a": [1, 2]}) != content_hash({"a": [2, 1]})  # arrays keep order


def test_the_stamp_leads_the_document_and_follows_only_from_the_version() -> None:
    content = {"b": 1, "a": {"d": 2, "c": 3}}
    stamped = stamp(content, NOW)
    assert stamped == stamp(dict(content), NOW)
    assert list(stamped) == ["schema_version", "version", "generated_at", "b", "a"]
    assert (stamped["schema_version"], stamped["generated_at"]) == (1, iso_utc(NOW))
    assert list(stamped["a"]) == ["d", "c"]  # the body keeps the content's own order


@given(_documents, st.integers(min_value=0, max_value=10**6))
def test_a_document_stamped_again_later_keeps_its_stamp_and_bytes(
    content: dict[str, Any], later: int
) -> None:
    content = {k: v for k, v in content.items() if k not in ("schema_version", "version")}
    content.pop("generated_at", None)
    first = finalize("k", DocKind.UNIT, content, None, NOW)
    previous = Published.from_body(first.body)
    assert previous is not None
    again = finalize("k", DocKind.UNIT, content, previous, NOW + later)
    assert (again.version, again.body) == (first.version, first.body)


def test_a_body_that_is_not_one_of_our_documents_describes_nothing() -> None:
    for body in (None, b"not json", b"[]", b'{"id":"x"}', b'{"version":"7"}'):
        assert Published.from_body(body) is None, body


def test_links_carry_12_hex_digits_of_the_bodys_sha256() -> None:
    body = orjson.dumps({"x": 1})
    assert body_version(body) == hashlib.sha256(body).hexdigest()[:12]
    assert body_version(body) != body_version(body + b" ")
