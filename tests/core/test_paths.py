"""The output layout (SPEC §3): one path segment per name, keys and their parsing."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from memora_cdn.core import paths
from memora_cdn.core.access import is_path_segment
from memora_cdn.core.paths import DocKind, ParsedKey, first_clash, parse_key, readable, segment

PROPERTY = settings(max_examples=500, deadline=None)

ARABIC_52 = "الدرس الأول: مقدمة في المعادلات الخطية وحل المسائل ١"
LONG_400 = "".join(f"Lesson {n:03} — " for n in range(30))[:400]


def sha16(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def segments_of(key: str) -> list[int]:
    return [len(part.encode()) for part in key.split("/")]


# -- the segment rule ---------------------------------------------------------------------


def test_a_name_is_percent_encoded_as_one_segment() -> None:
    assert segment("a b/c?d#e%f&g+h") == "a%20b%2Fc%3Fd%23e%25f%26g%2Bh"
    assert segment("S1") == "S1"
    assert segment("~tilde_-.") == "~tilde_-."


def test_a_name_quoting_to_200_bytes_is_kept_whole_and_one_more_byte_is_cut_and_hashed() -> None:
    assert segment("x" * 200) == "x" * 200
    assert segment("x" * 201) == "x" * 150 + "~" + sha16("x" * 201)


def test_a_long_name_is_cut_between_characters_never_inside_an_escape() -> None:
    # "é" quotes to %C3%A9: cutting at byte 150 would split an escape (148 + "%C")
    # or the character's two escapes (147 + "%C3"); the cut falls before the character.
    split_escape = "x" * 148 + "é" * 20
    split_character = "x" * 147 + "é" * 20
    assert segment(split_escape) == "x" * 148 + "~" + sha16(split_escape)
    assert segment(split_character) == "x" * 147 + "~" + sha16(split_character)
    # Arabic letters quote to six bytes each: 25 of them fill the 150 bytes exactly.
    arabic = "ع" * 60
    assert segment(arabic) == quote("ع" * 25) + "~" + sha16(arabic)


def test_a_long_segment_reads_as_the_start_of_its_name_and_its_hash() -> None:
    shown = readable(segment(ARABIC_52))
    start, _, digest = shown.rpartition("~")
    assert ARABIC_52.startswith(start)
    assert len(quote(start, safe="")) <= 150
    assert digest == sha16(ARABIC_52)


def test_names_with_one_truncated_form_still_differ_by_their_hash() -> None:
    first, second = "ا" * 100 + "1", "ا" * 100 + "2"
    assert segment(first)[:150] == segment(second)[:150]
    assert segment(first) != segment(second)


@pytest.mark.parametrize("name", [ARABIC_52, LONG_400], ids=["arabic-52", "latin-400"])
def test_long_names_give_keys_whose_segments_fit_a_file_name(name: str) -> None:
    keys = [
        paths.manifest_key(name),
        paths.subject_key(name, name),
        paths.unit_key(name, name),
        paths.lesson_key(name, name),
        paths.search_index_key(name),
        paths.search_shard_key(name, name),
        paths.search_shard_key(name, name, 12),
    ]
    for key in keys:
        assert max(segments_of(key)) <= 255
        assert len(key.encode()) <= 1_024
    assert len(segment(name)) <= 150 + 1 + 16  # hashed: a 200-byte segment would not do
    assert paths.lesson_key(name, name) == f"plans/{segment(name)}/lessons/{segment(name)}.json"
    assert segment(name).endswith("~" + sha16(name))


# -- the layout ---------------------------------------------------------------------------


def test_the_parts_of_a_split_subject_lie_in_a_folder_of_its_own() -> None:
    assert paths.search_shard_key("P", "S") == "plans/P/search/S.json"
    assert paths.search_shard_key("P", "S", 1) == "plans/P/search/S/1.json"
    assert paths.search_shard_key("P", "S.1") == "plans/P/search/S.1.json"
    assert paths.search_shard_key("P", "S", 1) != paths.search_shard_key("P", "S.1")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("plans/P/manifest.json", ParsedKey(DocKind.MANIFEST, "P")),
        ("plans/P/search_index.json", ParsedKey(DocKind.SEARCH_INDEX, "P")),
        ("plans/P/subjects/S.json", ParsedKey(DocKind.SUBJECT, "P", "S")),
        ("plans/P/units/U.json", ParsedKey(DocKind.UNIT, "P", "U")),
        ("plans/P%2F1/lessons/a%20b.json", ParsedKey(DocKind.LESSON, "P%2F1", "a%20b")),
        ("plans/P/search/S.1.json", ParsedKey(DocKind.SEARCH_SHARD, "P", "S.1")),
        ("plans/P/search/S/1.json", ParsedKey(DocKind.SEARCH_SHARD, "P", "S", 1)),
        ("plans/P/search/S/12.json", ParsedKey(DocKind.SEARCH_SHARD, "P", "S", 12)),
        ("plans/P/search/S/0.json", None),
        ("plans/P/search/S/x.json", None),
        ("plans/P/lessons/L.json.bak", None),
        ("plans/P/lessons/a/b.json", None),
        ("plans.json", None),
    ],
)
def test_keys_parse_to_the_kind_and_segments_they_hold(
    key: str, expected: ParsedKey | None
) -> None:
    assert parse_key(key) == expected


@pytest.mark.parametrize("name", ["P/1", ARABIC_52, LONG_400], ids=["slash", "arabic", "400"])
def test_a_parsed_key_is_matched_against_names_even_when_cut_and_hashed(name: str) -> None:
    lesson = parse_key(paths.lesson_key(name, name))
    shard = parse_key(paths.search_shard_key(name, name, 3))
    assert lesson is not None
    assert shard is not None
    assert (lesson.kind, lesson.part, shard.kind, shard.part) == (
        DocKind.LESSON,
        None,
        DocKind.SEARCH_SHARD,
        3,
    )
    for parsed in (lesson, shard):
        assert parsed.in_plan(name)
        assert parsed.is_named(name)
        assert not parsed.in_plan(name + "x")
        assert not parsed.is_named(name[:-1])


# -- clashes ------------------------------------------------------------------------------


def test_two_documents_at_one_key_clash() -> None:
    placed = [("plans/P/a.json", "A"), ("plans/P/b.json", "B"), ("plans/P/a.json", "C")]
    assert first_clash(placed) == (("plans/P/a.json", "A"), ("plans/P/a.json", "C"))


def test_a_file_whose_name_another_key_needs_as_a_folder_clashes() -> None:
    placed = [("plans/P/search/S.json/1.json", "S.json 1"), ("plans/P/search/S.json", "S")]
    assert first_clash(placed) == (
        ("plans/P/search/S.json", "S"),
        ("plans/P/search/S.json/1.json", "S.json 1"),
    )


def test_distinct_keys_in_distinct_folders_do_not_clash() -> None:
    placed = [
        (paths.search_shard_key("P", "S", 1), "S 1"),
        (paths.search_shard_key("P", "S", 2), "S 2"),
        (paths.search_shard_key("P", "S.1"), "S.1"),
        (paths.search_shard_key("P", "S"), "S unsplit"),
        (paths.manifest_key("P"), "manifest"),
    ]
    assert first_clash(placed) is None


# -- properties ---------------------------------------------------------------------------

_NAMES = st.one_of(
    st.text(max_size=80),
    st.text(min_size=150, max_size=500),
    # Long names sharing a start, differing only past the cut: the hash must tell them apart.
    st.builds(lambda tail: "ع" * 40 + tail, st.text(max_size=20)),
)


@PROPERTY
@given(_NAMES)
def test_any_name_is_one_short_plain_segment_every_time(name: str) -> None:
    assume(is_path_segment(name))
    result = segment(name)
    assert "/" not in result
    assert result not in ("", ".", "..")
    assert result.isascii()
    assert len(result.encode()) <= 200
    assert segment(name) == result


@PROPERTY
@given(st.lists(_NAMES, min_size=2, max_size=50, unique=True))
def test_distinct_names_give_distinct_segments(names: list[str]) -> None:
    assert len({segment(name) for name in names}) == len(names)


def test_a_large_sample_of_long_names_with_one_start_gives_distinct_segments() -> None:
    names = [f"{'ا' * 60}{n}" for n in range(20_000)] + [f"{'x' * 200}{n}" for n in range(20_000)]
    assert len({segment(name) for name in names}) == len(names)


# -- kinds and fixed keys -----------------------------------------------------------------


def test_documents_upload_children_first_then_the_manifest_then_the_plans_list() -> None:
    ranked = sorted(DocKind, key=lambda kind: kind.upload_rank)
    assert ranked == [
        DocKind.LESSON,
        DocKind.UNIT,
        DocKind.SUBJECT,
        DocKind.SEARCH_SHARD,
        DocKind.SEARCH_INDEX,
        DocKind.MANIFEST,
        DocKind.PLANS,
    ]


def test_every_kind_has_its_schema_under_schemas_v1() -> None:
    assert paths.schema_key(DocKind.SEARCH_SHARD) == "schemas/v1/search_shard.schema.json"
    assert len({paths.schema_key(kind) for kind in DocKind}) == len(DocKind)
    assert all(paths.schema_key(k).startswith(paths.SCHEMAS_PREFIX) for k in DocKind)


@pytest.mark.parametrize(
    "plan", ["P", "P/1", ARABIC_52, LONG_400], ids=["plain", "slash", "arabic", "400"]
)
def test_every_key_of_a_plan_lies_in_its_folder_and_parses_back_to_its_kind(plan: str) -> None:
    keys = {
        paths.manifest_key(plan): DocKind.MANIFEST,
        paths.search_index_key(plan): DocKind.SEARCH_INDEX,
        paths.subject_key(plan, "S"): DocKind.SUBJECT,
        paths.unit_key(plan, "U"): DocKind.UNIT,
        paths.lesson_key(plan, "L"): DocKind.LESSON,
        paths.search_shard_key(plan, "S"): DocKind.SEARCH_SHARD,
        paths.search_shard_key(plan, "S", 2): DocKind.SEARCH_SHARD,
    }
    for key, kind in keys.items():
        assert key.startswith(paths.plan_prefix(plan))
        parsed = parse_key(key)
        assert parsed is not None, key
        assert parsed.kind is kind
        assert parsed.in_plan(plan)
    assert paths.PLANS_KEY not in keys
    assert parse_key(paths.PLANS_KEY) is None  # the store's list is no plan's document
