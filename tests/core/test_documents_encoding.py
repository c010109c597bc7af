"""Document bytes: `finalize` writes exactly what the stamped document encodes to, and
hashes exactly the unstamped one, its keys sorted."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memora_cdn.core.documents import SCHEMA_VERSION, Published, dumps, finalize, sha256_hex
from memora_cdn.core.paths import DocKind

_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_contents = st.dictionaries(
    st.text().filter(lambda k: k not in ("schema_version", "version", "generated_at")),
    _values,
    max_size=6,
)


@given(_contents)
def test_the_body_is_the_stamped_document_and_the_hash_is_of_the_unstamped_one(
    content: dict[str, Any],
) -> None:
    document = finalize("plans/P/lessons/L.json", DocKind.LESSON, content, None, 1_790_000_000)
    assert document.body == dumps(document.content)
    assert list(document.content)[:3] == ["schema_version", "version", "generated_at"]
    unstamped = {"schema_version": SCHEMA_VERSION, **content}
    assert document.content_hash == sha256_hex(orjson.dumps(unstamped, option=orjson.OPT_SORT_KEYS))


def test_unchanged_content_keeps_its_version_and_bytes() -> None:
    first = finalize("k", DocKind.UNIT, {"id": "U1"}, None, 100)
    again = finalize("k", DocKind.UNIT, {"id": "U1"}, Published(first.content_hash, 100), 200)
    assert (again.version, again.body) == (100, first.body)
    changed = finalize("k", DocKind.UNIT, {"id": "U2"}, Published(first.content_hash, 100), 200)
    assert changed.version == 200


def test_content_holding_a_stamp_field_is_refused() -> None:
    with pytest.raises(ValueError, match=r"k: content may not hold \['version'\]"):
        finalize("k", DocKind.UNIT, {"version": 3}, None, 100)
