"""Rendering (SPEC §3), on in-memory snapshots: the pure core, no database."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defaults import default_render_options
from memora_cdn.core.access import resolve
from memora_cdn.core.documents import Published, sha256_hex
from memora_cdn.core.links import link_version, resolve_link
from memora_cdn.core.model import NodeKind
from memora_cdn.core.paths import DocKind, segment
from memora_cdn.core.render import Rendering, render_plan
from memora_cdn.errors import KeyCollisionError
from memtree import Tree, regular_tree

NOW = 1_790_000_000


def render(
    tree: Tree, previous: dict[str, Published] | None = None, now: int = NOW, **options: Any
) -> Rendering:
    return render_plan(
        resolve(tree.snapshot()), previous or {}, now, default_render_options(**options)
    )


def docs(rendering: Rendering) -> dict[str, dict[str, Any]]:
    return {d.key: json.loads(d.body) for d in rendering.documents}


def published(rendering: Rendering) -> dict[str, Published]:
    return {d.key: Published(d.content_hash, d.version, d.size) for d in rendering.documents}


def test_documents_come_children_first_and_manifest_last() -> None:
    rendering = render(regular_tree(lessons=2))
    kinds = [d.kind for d in rendering.documents]
    assert kinds == sorted(kinds, key=lambda k: k.upload_rank)
    assert kinds[-1] is DocKind.MANIFEST
    assert kinds.count(DocKind.LESSON) == 2


def test_links_carry_the_first_12_hex_of_the_linked_files_sha256() -> None:
    rendering = render(regular_tree())
    bodies = {d.key: d.body for d in rendering.documents}
    by_key = docs(rendering)
    manifest = by_key["plans/P1/manifest.json"]
    links = [("plans/P1/manifest.json", manifest["search_index_url"])]
    links.append(("plans/P1/manifest.json", manifest["subjects"][0]["url"]))
    subject = by_key["plans/P1/subjects/S1.json"]
    links.append(("plans/P1/subjects/S1.json", subject["tracks"][0]["units"][0]["url"]))
    unit = by_key["plans/P1/units/S1T1U1.json"]
    links.append(("plans/P1/units/S1T1U1.json", unit["topics"][0]["lessons"][0]["url"]))
    index = by_key["plans/P1/search_index.json"]
    links.append(("plans/P1/search_index.json", index["entries"][0]["url"]))
    for holder, link in links:
        key = resolve_link(holder, link)
        assert key is not None
        assert link_version(link) == sha256_hex(bodies[key])[:12]


def test_links_are_relative_to_the_file_that_holds_them() -> None:
    # Before SPEC §3 "Links", links were keys from the store root: resolved against the
    # manifest's URL they led to plans/P1/plans/P1/subjects/...
    by_key = docs(render(regular_tree()))
    manifest = by_key["plans/P1/manifest.json"]
    assert manifest["subjects"][0]["url"].partition("?")[0] == "subjects/S1.json"
    assert manifest["search_index_url"].partition("?")[0] == "search_index.json"
    unit = by_key["plans/P1/units/S1T1U1.json"]
    lesson_url = unit["topics"][0]["lessons"][0]["url"]
    assert lesson_url.partition("?")[0] == "../lessons/S1T1U1P1L1.json"
    index = by_key["plans/P1/search_index.json"]
    assert index["entries"][0]["url"].partition("?")[0] == "lessons/S1T1U1P1L1.json"


def test_unchanged_content_keeps_version_generated_at_and_bytes() -> None:
    first = render(regular_tree(lessons=3))
    again = render(regular_tree(lessons=3), published(first), now=NOW + 3600)
    assert [d.body for d in again.documents] == [d.body for d in first.documents]
    assert docs(again)["plans/P1/manifest.json"]["generated_at"] == "2026-09-21T14:13:20Z"


def test_a_changed_stage_changes_its_lesson_and_every_file_linking_to_it_up_to_the_manifest() -> (
    None
):
    # Search entries carry `?v=` (SPEC §3): the search index is rewritten too.
    first = render(regular_tree(lessons=3))
    tree = regular_tree(lessons=3)
    tree.stages[0] = replace(tree.stages[0], config='{"body": "changed"}')
    second = render(tree, published(first), now=NOW + 60)
    before = {d.key: d.body for d in first.documents}
    changed = {d.key for d in second.documents if d.body != before[d.key]}
    assert changed == {
        "plans/P1/lessons/S1T1U1P1L1.json",
        "plans/P1/units/S1T1U1.json",
        "plans/P1/subjects/S1.json",
        "plans/P1/search_index.json",
        "plans/P1/manifest.json",
    }
    lesson = docs(second)["plans/P1/lessons/S1T1U1P1L1.json"]
    assert lesson["version"] == NOW + 60
    assert lesson["generated_at"] == "2026-09-21T14:14:20Z"


def test_fifty_lessons_make_one_search_index_with_fifty_entries() -> None:
    tree = Tree()
    for s in range(3):
        tree.subject(f"S{s}").track(f"T{s}", f"S{s}").unit(f"U{s}", f"T{s}").topic(f"P{s}", f"U{s}")
    for n in range(50):
        tree.lesson(f"L{n:02}", f"P{n % 3}")
    index = docs(render(tree))["plans/P1/search_index.json"]
    assert index["is_sharded"] is False
    assert index["total_lessons"] == 50
    assert len(index["entries"]) == 50
    assert {e["lesson_id"] for e in index["entries"]} == {f"L{n:02}" for n in range(50)}
    assert index["entries"][0]["url"].partition("?v=")[0] == "lessons/L00.json"


def test_more_than_500_lessons_shard_the_index_by_subject_within_100000_bytes() -> None:
    tree = regular_tree(subjects=2, tracks=1, units=3, topics=3, lessons=28, stages=0)
    # Long titles push a subject past one shard file.
    tree.nodes = [
        replace(n, title="عنوان " * 20) if n.kind is NodeKind.LESSON else n for n in tree.nodes
    ]
    rendering = render(tree)
    index = docs(rendering)["plans/P1/search_index.json"]
    assert index["total_lessons"] == 504
    assert index["is_sharded"] is True
    shards = [d for d in rendering.documents if d.kind is DocKind.SEARCH_SHARD]
    assert all(d.size <= 100_000 for d in shards)
    assert len(shards) > 2, "a subject this large is split in parts"
    index_key = "plans/P1/search_index.json"
    assert {resolve_link(index_key, s["url"]) for s in index["shards"]} == {d.key for d in shards}
    assert "plans/P1/search/S1/1.json" in {d.key for d in shards}
    assert sum(s["lesson_count"] for s in index["shards"]) == 504


def _subject_with_lessons(tree: Tree, subject: str, lessons: int, sort_order: int) -> None:
    tree.subject(subject, sort_order=sort_order)
    tree.track(f"{subject}-T", subject).unit(f"{subject}-U", f"{subject}-T")
    tree.topic(f"{subject}-P", f"{subject}-U")
    for n in range(lessons):
        tree.lesson(f"{subject}-L{n:02}", f"{subject}-P", title="عنوان " * 10, sort_order=n)


def test_a_subject_split_in_parts_and_a_subject_named_like_a_part_never_share_a_key() -> None:
    # Before SPEC §3's shard folders, part 1 of S and the shard of S.1 were both S.1.json.
    tree = Tree()
    _subject_with_lessons(tree, "S", 12, sort_order=1)
    _subject_with_lessons(tree, "S.1", 2, sort_order=2)
    rendering = render(tree, shard_threshold=1, shard_max_bytes=2_000)
    shards = [d for d in rendering.documents if d.kind is DocKind.SEARCH_SHARD]
    keys = [d.key for d in shards]
    assert len(set(keys)) == len(keys)
    assert "plans/P1/search/S.1.json" in keys
    assert {"plans/P1/search/S/1.json", "plans/P1/search/S/2.json"} <= set(keys)
    index = docs(rendering)["plans/P1/search_index.json"]
    index_key = "plans/P1/search_index.json"
    assert [resolve_link(index_key, s["url"]) for s in index["shards"]] == keys
    by_key = docs(rendering)
    bodies = {d.key: d.body for d in rendering.documents}
    for key in keys:  # a part's entries climb one folder more than a whole shard's
        for entry in by_key[key]["entries"]:
            lesson = resolve_link(key, entry["url"])
            assert lesson == f"plans/P1/lessons/{entry['lesson_id']}.json"
            assert link_version(entry["url"]) == sha256_hex(bodies[lesson])[:12]
    assert sorted(e["lesson_id"] for key in keys for e in by_key[key]["entries"]) == sorted(
        [f"S-L{n:02}" for n in range(12)] + ["S.1-L00", "S.1-L01"]
    )


def test_two_lessons_whose_names_give_one_key_are_a_build_error_naming_both() -> None:
    long_name = "a" * 400
    lookalike = segment(long_name)  # a name spelled like the cut and hashed segment
    tree = regular_tree(lessons=0)
    tree.lesson(long_name, "S1T1U1P1", sort_order=1).lesson(lookalike, "S1T1U1P1", sort_order=2)
    with pytest.raises(KeyCollisionError) as caught:
        render(tree)
    assert str(caught.value) == (
        f"plan 'P1': lesson {long_name!r} and lesson {lookalike!r} would both be written to"
        f" plans/P1/lessons/{lookalike}.json; nothing of the plan was uploaded"
        " (rename one of them)"
    )
    assert (caught.value.first, caught.value.second) == (
        f"lesson {long_name!r}",
        f"lesson {lookalike!r}",
    )


def test_a_shard_file_whose_name_a_split_subject_needs_as_its_folder_is_a_build_error() -> None:
    tree = Tree()
    _subject_with_lessons(tree, "S", 1, sort_order=1)
    _subject_with_lessons(tree, "S.json", 12, sort_order=2)
    with pytest.raises(KeyCollisionError) as caught:
        render(tree, shard_threshold=1, shard_max_bytes=2_000)
    assert str(caught.value) == (
        "plan 'P1': subject 'S' (search shard) and subject 'S.json' (search shard part 1)"
        " cannot both be stored: plans/P1/search/S.json would be the file of the first and a"
        " folder holding plans/P1/search/S.json/1.json; nothing of the plan was uploaded"
        " (rename one of them)"
    )


def test_exactly_500_lessons_stay_in_one_index() -> None:
    tree = regular_tree(subjects=1, tracks=1, units=5, topics=4, lessons=25, stages=0)
    index = docs(render(tree))["plans/P1/search_index.json"]
    assert (index["total_lessons"], index["is_sharded"]) == (500, False)


def test_hidden_unit_appears_nowhere() -> None:
    tree = regular_tree(units=2, lessons=2).override("Unit", "S1T1U2", "Hide")
    rendering = render(tree)
    text = b"".join(d.body for d in rendering.documents).decode()
    assert "S1T1U2" not in text
    subject = docs(rendering)["plans/P1/subjects/S1.json"]
    assert subject["stats"] == {"tracks": 1, "units": 1, "topics": 1, "lessons": 2}
    assert not any("U2" in d.key for d in rendering.documents)


def test_unpublished_lesson_is_skipped_in_lists_counts_and_navigation() -> None:
    tree = Tree().subject("S").track("T", "S").unit("U", "T").topic("P", "U")
    tree.lesson("L1", "P", sort_order=1).lesson("L2", "P", sort_order=2, is_published=False)
    tree.lesson("L3", "P", sort_order=3)
    by_key = docs(render(tree))
    unit = by_key["plans/P1/units/U.json"]
    assert [lesson["id"] for lesson in unit["topics"][0]["lessons"]] == ["L1", "L3"]
    assert unit["stats"] == {"topics": 1, "lessons": 2}
    assert by_key["plans/P1/lessons/L1.json"]["navigation"] == {"next": {"id": "L3", "title": "L3"}}
    assert "plans/P1/lessons/L2.json" not in by_key


def test_navigation_runs_across_topics_within_the_unit() -> None:
    tree = Tree().subject("S").track("T", "S").unit("U", "T")
    tree.topic("P1", "U", sort_order=1).topic("P2", "U", sort_order=2)
    tree.lesson("A", "P1").lesson("B", "P2")
    by_key = docs(render(tree))
    assert by_key["plans/P1/lessons/A.json"]["navigation"] == {"next": {"id": "B", "title": "B"}}
    assert by_key["plans/P1/lessons/B.json"]["navigation"] == {
        "previous": {"id": "A", "title": "A"}
    }


def test_rename_shows_everywhere_and_set_linear_is_honoured() -> None:
    tree = regular_tree(lessons=2)
    tree.override("Lesson", "S1T1U1P1L1", "Rename", "Renamed lesson")
    tree.override("Unit", "S1T1U1", "Set Linear", "yes")
    by_key = docs(render(tree))
    texts = {key: json.dumps(doc, ensure_ascii=False) for key, doc in by_key.items()}
    assert "Lesson S1T1U1P1L1" not in "".join(texts.values())
    for key in (
        "plans/P1/lessons/S1T1U1P1L1.json",
        "plans/P1/lessons/S1T1U1P1L2.json",
        "plans/P1/units/S1T1U1.json",
        "plans/P1/search_index.json",
    ):
        assert "Renamed lesson" in texts[key]
    assert by_key["plans/P1/units/S1T1U1.json"]["is_linear"] is True


def test_ordering_is_sort_order_then_title_then_name() -> None:
    tree = Tree().subject("S").track("T", "S").unit("U", "T").topic("P", "U")
    tree.lesson("c", "P", sort_order=1, title="B").lesson("b", "P", sort_order=1, title="B")
    tree.lesson("a", "P", sort_order=1, title="C").lesson("z", "P", sort_order=0, title="Z")
    unit = docs(render(tree))["plans/P1/units/U.json"]
    assert [x["id"] for x in unit["topics"][0]["lessons"]] == ["z", "b", "c", "a"]


@pytest.mark.parametrize("name", ["../x", "a/b", "Ünïcode name", "x" * 140, "ا" * 140])
def test_awkward_names_become_single_encoded_path_segments(name: str) -> None:
    tree = Tree().subject("S").track("T", "S").unit(name, "T").topic("P", name).lesson(name, "P")
    rendering = render(tree)
    keys = {d.key for d in rendering.documents}
    for key in keys:
        assert key.startswith("plans/P1/")
        assert ".." not in key.split("/")
        assert len(key.split("/")) in (3, 4)
    unit_link = docs(rendering)["plans/P1/subjects/S.json"]["tracks"][0]["units"][0]["url"]
    assert resolve_link("plans/P1/subjects/S.json", unit_link) in keys


def test_bad_stage_config_renders_as_empty_object_with_a_warning() -> None:
    tree = Tree().subject("S").track("T", "S").unit("U", "T").topic("P", "U").lesson("L", "P")
    tree.stage("L", "Video", '{"video_url": ', name="ST-1").stage(
        "L", "Text", "[1, 2]", name="ST-2"
    )
    tree.stage("L", "Hologram", "{}", name="ST-3").stage("L", "Question", '{"q": 1}', name="ST-4")
    rendering = render(tree)
    lesson = docs(rendering)["plans/P1/lessons/L.json"]
    assert [(s["idx"], s["type"], s["config"]) for s in lesson["stages"]] == [
        (1, "Video", {}),
        (2, "Text", {}),
        (3, "Question", {"q": 1}),
    ]
    joined = "\n".join(rendering.warnings)
    assert "'ST-1'" in joined
    assert "'ST-2'" in joined
    assert "unknown stage type 'Hologram'" in joined


SURROGATES = "cannot be written as strict JSON (str is not valid UTF-8: surrogates not allowed)"
BEYOND_64_BITS = "is not valid JSON (integer {} is beyond 64 bits)"


def _nested(depth: int) -> str:
    return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ('{"a": NaN}', "is not valid JSON (NaN is not a JSON number)"),
        ('{"a": -Infinity}', "is not valid JSON (-Infinity is not a JSON number)"),
        ('{"a": 1e400}', "is not valid JSON (number 1e400 is not finite)"),
        ('{"a": 18446744073709551616}', BEYOND_64_BITS.format(2**64)),
        ('{"a": -9223372036854775809}', BEYOND_64_BITS.format(-(2**63) - 1)),
        (_nested(65), "nests deeper than 64"),
        ("[" * 5000 + "]" * 5000, "nests deeper than 64"),
        ('{"a": "\\ud800"}', SURROGATES),
        ('{"\\udfff": 1}', SURROGATES),
        ('{"a": "\udcff"}', SURROGATES),
        ('{"a": "' + "x" * 1_000_000 + '"}', "is 1000009 bytes, over 1000000"),
    ],
    ids=["nan", "infinity", "overflowing-float", "int-2**64", "int-below-int64", "depth-65",
         "depth-5000", "escaped-surrogate", "surrogate-key", "raw-surrogate", "over-1MB"],
)  # fmt: skip
def test_a_stage_config_that_is_not_strict_json_renders_as_empty_object_with_a_warning(
    config: str, problem: str
) -> None:
    tree = Tree().subject("S").track("T", "S").unit("U", "T").topic("P", "U").lesson("L", "P")
    tree.stage("L", "Video", config, name="ST-1")

    rendering = render(tree)

    lesson = docs(rendering)["plans/P1/lessons/L.json"]
    assert lesson["stages"][0]["config"] == {}
    assert rendering.warnings == (
        f"Memora Lesson Stage 'ST-1' of lesson 'L': config {problem}; rendered as {{}}",
    )


@pytest.mark.parametrize(
    "config",
    [_nested(64), '{"a": 18446744073709551615, "b": -9223372036854775808, "c": 1e308}'],
    ids=["depth-64", "64-bit-limits"],
)
def test_a_stage_config_at_the_limits_is_rendered_as_is(config: str) -> None:
    tree = Tree().subject("S").track("T", "S").unit("U", "T").topic("P", "U").lesson("L", "P")
    tree.stage("L", "Video", config, name="ST-1")

    rendering = render(tree)

    assert docs(rendering)["plans/P1/lessons/L.json"]["stages"][0]["config"] == json.loads(config)
    assert rendering.warnings == ()


def test_optional_fields_without_value_are_omitted_never_null() -> None:
    tree = Tree().subject("S", description=None, image=None).track("T", "S").unit("U", "T")
    tree.topic("P", "U").lesson("L", "P")
    for document in render(tree).documents:
        assert b"null" not in document.body
    subject = docs(render(tree))["plans/P1/subjects/S.json"]
    assert "description" not in subject
    assert "image" not in subject


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(0, 4), st.integers(0, 3)
)
def test_rendering_is_deterministic(
    subjects: int, units: int, topics: int, lessons: int, stages: int
) -> None:
    def tree() -> Tree:
        return regular_tree(
            subjects=subjects, units=units, topics=topics, lessons=lessons, stages=stages
        )

    first, second = render(tree()), render(tree())
    assert [(d.key, d.body) for d in first.documents] == [(d.key, d.body) for d in second.documents]
