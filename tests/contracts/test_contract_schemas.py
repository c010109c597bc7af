"""The JSON Schemas of the published documents, checked through `validate_document`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from memora_cdn.contracts.document import Problem, validate_document
from memora_cdn.contracts.schemas import schema
from memora_cdn.core.paths import DocKind

Doc = dict[str, Any]
V = "0123456789ab"
LINK_RULE = (
    "must be a link relative to this file (no scheme, no leading /) ending in .json?v="
    " and 12 hex digits"
)
HEADER: Doc = {"schema_version": 1, "version": 1717000000, "generated_at": "2024-05-29T16:26:40Z"}
PUBLIC: Doc = {
    "is_published": True,
    "access_level": "public",
    "is_sold_separately": False,
    "parent_item_required": False,
}
PAID: Doc = {**PUBLIC, "access_level": "paid", "required_item": "ITEM-1"}
ENTRY: Doc = {
    "lesson_id": "L1",
    "lesson_title": "Fractions",
    "topic_id": "T1",
    "unit_id": "U1",
    "unit_title": "Numbers",
    "subject_id": "S1",
    "subject_title": "Maths",
    "access_level": "public",
    "url": f"../lessons/L1.json?v={V}",
}


def minimal(kind: DocKind) -> Doc:
    """The smallest valid document of each kind: every optional field omitted, lists empty."""
    body: Doc
    match kind:
        case DocKind.MANIFEST:
            body = {
                "plan_id": "P1",
                "title": "Grade 5",
                "subjects": [],
                "search_index_url": f"search_index.json?v={V}",
                "stats": {"subjects": 0, "tracks": 0, "units": 0, "topics": 0, "lessons": 0},
            }
        case DocKind.SUBJECT:
            body = {
                "id": "S1",
                "plan_id": "P1",
                "title": "Maths",
                "is_linear": False,
                "access": PUBLIC,
                "tracks": [],
                "stats": {"tracks": 0, "units": 0, "topics": 0, "lessons": 0},
            }
        case DocKind.UNIT:
            body = {
                "id": "U1",
                "plan_id": "P1",
                "title": "Numbers",
                "is_linear": False,
                "access": PUBLIC,
                "parent": {
                    "track_id": "TR1",
                    "track_title": "Core",
                    "subject_id": "S1",
                    "subject_title": "Maths",
                },
                "topics": [],
                "stats": {"topics": 0, "lessons": 0},
            }
        case DocKind.LESSON:
            body = {
                "id": "L1",
                "plan_id": "P1",
                "title": "Fractions",
                "access": PUBLIC,
                "parent": {
                    "topic_id": "T1",
                    "topic_title": "Parts",
                    "unit_id": "U1",
                    "unit_title": "Numbers",
                    "track_id": "TR1",
                    "track_title": "Core",
                    "subject_id": "S1",
                    "subject_title": "Maths",
                },
                "navigation": {},
                "stages": [],
            }
        case DocKind.SEARCH_INDEX:
            body = {"plan_id": "P1", "total_lessons": 0, "is_sharded": False, "entries": []}
        case DocKind.SEARCH_SHARD:
            body = {"plan_id": "P1", "subject_id": "S1", "entries": []}
        case DocKind.PLANS:
            body = {"plans": []}
    return copy.deepcopy({**HEADER, **body})


def full(kind: DocKind) -> Doc:
    """A valid document of each kind with every optional field present and a list item each."""
    doc = minimal(kind)
    match kind:
        case DocKind.MANIFEST:
            doc |= {"season": "2024/25", "grade": "Grade 5", "stream": "Science"}
            doc["subjects"] = [
                {
                    "id": "S1",
                    "title": "Maths",
                    "description": "Numbers and shapes",
                    "image": "/files/maths.png",
                    "color_code": "#ff8800",
                    "sort_order": 1,
                    "is_linear": True,
                    "url": f"subjects/S1.json?v={V}",
                    "access": PAID,
                    "stats": {"tracks": 1, "units": 1, "topics": 1, "lessons": 1},
                }
            ]
            doc["stats"] = {"subjects": 1, "tracks": 1, "units": 1, "topics": 1, "lessons": 1}
        case DocKind.SUBJECT:
            doc |= {"description": "Numbers", "image": "/m.png", "color_code": "#123456"}
            unit = {
                "id": "U1",
                "title": "Numbers",
                "description": "Counting",
                "image": "/u.png",
                "badge_image": "/badge.png",
                "sort_order": 0,
                "is_linear": False,
                "url": f"../units/U1.json?v={V}",
                "access": {**PUBLIC, "access_level": "free_preview", "is_sold_separately": True},
                "stats": {"topics": 1, "lessons": 1},
            }
            doc["tracks"] = [
                {
                    "id": "TR1",
                    "title": "Core",
                    "description": "The core track",
                    "image": "/t.png",
                    "sort_order": -1,
                    "is_linear": True,
                    "access": {**PUBLIC, "access_level": "authenticated"},
                    "units": [unit],
                }
            ]
            doc["stats"] = {"tracks": 1, "units": 1, "topics": 1, "lessons": 1}
        case DocKind.UNIT:
            doc |= {"description": "Counting", "image": "/u.png", "badge_image": "/b.png"}
            lesson = {
                "id": "L1",
                "title": "Fractions",
                "description": "Halves",
                "image": "/l.png",
                "sort_order": 1,
                "url": f"../lessons/L1.json?v={V}",
                "access": PAID,
                "stage_count": 2,
            }
            doc["topics"] = [
                {
                    "id": "T1",
                    "title": "Parts",
                    "description": "Parts of a whole",
                    "image": "/p.png",
                    "sort_order": 1,
                    "is_linear": False,
                    "access": PUBLIC,
                    "lessons": [lesson],
                }
            ]
            doc["stats"] = {"topics": 1, "lessons": 1}
        case DocKind.LESSON:
            doc |= {
                "description": "Halves and quarters",
                "image": "/l.png",
                "signed_url_expires_at": "2024-05-29T20:26:40Z",
            }
            doc["navigation"] = {
                "previous": {"id": "L0", "title": "Whole numbers"},
                "next": {"id": "L2", "title": "Decimals"},
            }
            doc["stages"] = [
                {
                    "idx": 1,
                    "title": "Watch",
                    "type": "Video",
                    "weight": 0.5,
                    "target_time": 120,
                    "is_skippable": False,
                    "config": {"video_url": "https://media.example/v.mp4?sig=x"},
                },
                {"idx": 2, "type": "Question", "weight": 1, "is_skippable": True, "config": {}},
            ]
        case DocKind.SEARCH_INDEX:
            doc |= {"total_lessons": 1, "is_sharded": True}
            del doc["entries"]
            doc["shards"] = [
                {
                    "subject_id": "S1",
                    "subject_title": "Maths",
                    "lesson_count": 1,
                    "url": f"search/S1/1.json?v={V}",
                }
            ]
        case DocKind.SEARCH_SHARD:
            doc["entries"] = [{**ENTRY, "url": f"../../lessons/L1.json?v={V}"}]
        case DocKind.PLANS:
            doc["plans"] = [
                {"id": "P0", "title": "Grade 4", "manifest_url": "plans/P0/manifest.json"},
                {
                    "id": "P1",
                    "title": "Grade 5",
                    "season": "2024/25",
                    "grade": "Grade 5",
                    "stream": "Science",
                    "manifest_url": "plans/P1/manifest.json",
                },
            ]
    return copy.deepcopy(doc)


def problems(kind: DocKind, doc: Doc, file: str = "doc.json") -> list[str]:
    return [str(problem) for problem in validate_document(kind, doc, file)]


@pytest.mark.parametrize("kind", list(DocKind))
def test_every_schema_is_a_valid_draft_2020_12_schema_shipped_in_the_package(
    kind: DocKind,
) -> None:
    shipped = files("memora_cdn.contracts").joinpath(f"{kind.value}.schema.json")
    assert shipped.is_file()
    loaded = schema(kind)
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(loaded)
    assert schema(kind) is loaded


def properties_of(node: object, where: str = "$") -> list[tuple[str, Any]]:
    """(path, schema) of every property the schema defines, at any depth, `$defs` included;
    the properties an `if` tests are conditions, not properties of the format."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    found.append((f"{where}.{name}", sub))
                    found += properties_of(sub, f"{where}.{name}")
            elif key == "items":
                found += properties_of(value, f"{where}[]")
            elif key != "if":
                found += properties_of(value, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            found += properties_of(item, where)
    return found


@pytest.mark.parametrize("kind", list(DocKind))
def test_every_schema_has_an_id_a_title_and_a_description_on_every_property(
    kind: DocKind,
) -> None:
    loaded = schema(kind)
    assert loaded["$id"] == f"urn:memora-cdn:schema:{kind.value}:1"
    assert loaded["title"]
    assert loaded["description"]
    undescribed = [
        path
        for path, sub in properties_of(loaded)
        if not (isinstance(sub.get("description"), str) and sub["description"].strip())
    ]
    assert undescribed == []


def test_schema_descriptions_give_the_units_of_times_weights_and_versions() -> None:
    lesson = schema(DocKind.LESSON)
    stage = lesson["properties"]["stages"]["items"]["properties"]
    assert "in seconds" in stage["target_time"]["description"]
    assert "Relative weight" in stage["weight"]["description"]
    for kind in DocKind:
        assert "Unix seconds" in schema(kind)["properties"]["version"]["description"]


@pytest.mark.parametrize("kind", list(DocKind))
def test_a_document_with_an_extra_top_level_field_fails_validation_where_the_format_is_closed(
    kind: DocKind,
) -> None:
    assert schema(kind)["additionalProperties"] is False
    doc = full(kind) | {"extra": 1}
    assert problems(kind, doc) == ["doc.json: $.extra: property is not allowed"]


@pytest.mark.parametrize("kind", list(DocKind))
def test_every_object_of_the_formats_is_closed_but_a_stage_config(kind: DocKind) -> None:
    open_objects = [
        path
        for path, sub in [("$", schema(kind)), *properties_of(schema(kind))]
        if sub.get("type") == "object" and sub.get("additionalProperties") is not False
    ]
    items = [
        (path, sub["items"])
        for path, sub in properties_of(schema(kind))
        if isinstance(sub.get("items"), dict) and sub["items"].get("type") == "object"
    ]
    open_objects += [p for p, sub in items if sub.get("additionalProperties") is not False]
    assert open_objects == (["$.stages[].config"] if kind is DocKind.LESSON else [])


def test_a_rule_message_is_the_error_and_a_description_only_documents() -> None:
    doc = full(DocKind.LESSON)
    doc["stages"][0]["target_time"] = "2 min"
    doc["generated_at"] = "yesterday"
    assert problems(DocKind.LESSON, doc) == [
        "doc.json: $.generated_at: must be a UTC time like 2024-01-31T09:30:00Z",
        "doc.json: $.stages[0].target_time: must be an integer, not a string",
    ]


@pytest.mark.parametrize("kind", list(DocKind))
def test_a_minimal_document_of_each_kind_is_valid(kind: DocKind) -> None:
    assert problems(kind, minimal(kind)) == []


@pytest.mark.parametrize("kind", list(DocKind))
def test_a_full_document_of_each_kind_is_valid(kind: DocKind) -> None:
    assert problems(kind, full(kind)) == []


def test_an_unsharded_index_with_entries_is_valid() -> None:
    doc = minimal(DocKind.SEARCH_INDEX) | {"total_lessons": 1, "entries": [ENTRY]}
    assert problems(DocKind.SEARCH_INDEX, doc) == []


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """Set (or, with value DELETE, remove) the value at a dotted path; digits index lists."""

    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for step in parents:
            node = node[int(step)] if step.isdigit() else node[step]
        key: Any = int(last) if last.isdigit() else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value

    return change


def _all(*changes: Callable[[Doc], None]) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        for one in changes:
            one(doc)

    return change


DELETE = object()

BROKEN = [
    pytest.param(
        DocKind.LESSON,
        _set("stages.0.weight", "heavy"),
        "$.stages[0].weight: must be a number, not a string",
        id="lesson-wrong-type",
    ),
    pytest.param(
        DocKind.LESSON,
        _set("parent.unit_id", DELETE),
        "$.parent.unit_id: required property is missing",
        id="lesson-missing-required",
    ),
    pytest.param(
        DocKind.LESSON,
        _set("stages.1.type", "Audio"),
        '$.stages[1].type: must be one of "Video", "Question", "Text", "Interactive"',
        id="lesson-unknown-stage-type",
    ),
    pytest.param(
        DocKind.LESSON,
        _set("stages.0.idx", 0),
        "$.stages[0].idx: must be at least 1",
        id="lesson-stage-idx-zero",
    ),
    pytest.param(
        DocKind.LESSON,
        _set("navigation.next.url", "plans/P1/lessons/L2.json"),
        "$.navigation.next.url: property is not allowed",
        id="lesson-navigation-with-url",
    ),
    pytest.param(
        DocKind.LESSON,
        _set("signed_url_expires_at", "2024-05-29 20:26:40"),
        "$.signed_url_expires_at: must be a UTC time like 2024-01-31T09:30:00Z",
        id="lesson-bad-timestamp",
    ),
    pytest.param(
        DocKind.UNIT,
        _set("topics.0.colour", "red"),
        "$.topics[0].colour: property is not allowed",
        id="unit-extra-property",
    ),
    pytest.param(
        DocKind.UNIT,
        _set("topics.0.lessons.0.access.required_item", DELETE),
        '$.topics[0].lessons[0].access.required_item: required when access_level is "paid"',
        id="unit-paid-without-required-item",
    ),
    pytest.param(
        DocKind.UNIT,
        _set("badge_image", None),
        "$.badge_image: must be a string, not null",
        id="unit-null-optional",
    ),
    pytest.param(
        DocKind.SUBJECT,
        _set("description", None),
        "$.description: must be a string, not null",
        id="subject-null-optional",
    ),
    pytest.param(
        DocKind.SUBJECT,
        _set("access.required_item", "ITEM-1"),
        '$.access.required_item: allowed only when access_level is "paid"',
        id="subject-required-item-on-public",
    ),
    pytest.param(
        DocKind.SUBJECT,
        _set("tracks.0.units.0.stats.lessons", -1),
        "$.tracks[0].units[0].stats.lessons: must be at least 0",
        id="subject-negative-stat",
    ),
    pytest.param(
        DocKind.SUBJECT,
        _set("title", ""),
        "$.title: must not be empty",
        id="subject-empty-title",
    ),
    pytest.param(
        DocKind.MANIFEST,
        _set("subjects.0.access.required_item", DELETE),
        '$.subjects[0].access.required_item: required when access_level is "paid"',
        id="manifest-paid-without-required-item",
    ),
    pytest.param(
        DocKind.MANIFEST,
        _set("subjects.0.url", "subjects/S1.json"),
        f"$.subjects[0].url: {LINK_RULE}",
        id="manifest-unversioned-link",
    ),
    pytest.param(
        DocKind.MANIFEST,
        _set("subjects.0.url", f"https://cdn.example/plans/P1/subjects/S1.json?v={V}"),
        f"$.subjects[0].url: {LINK_RULE}",
        id="manifest-absolute-link",
    ),
    pytest.param(
        DocKind.UNIT,
        _set("topics.0.lessons.0.url", f"/plans/P1/lessons/L1.json?v={V}"),
        f"$.topics[0].lessons[0].url: {LINK_RULE}",
        id="unit-link-from-the-host-root",
    ),
    pytest.param(
        DocKind.MANIFEST,
        _set("schema_version", 2),
        "$.schema_version: must be 1",
        id="manifest-wrong-schema-version",
    ),
    pytest.param(
        DocKind.MANIFEST,
        _set("subjects.0.access.is_published", False),
        "$.subjects[0].access.is_published: must be true",
        id="manifest-unpublished-subject",
    ),
    pytest.param(
        DocKind.MANIFEST,
        _set("version", True),
        "$.version: must be an integer, not a boolean",
        id="manifest-boolean-version",
    ),
    pytest.param(
        DocKind.SEARCH_INDEX,
        _set("entries", [ENTRY]),
        "$.entries: allowed only when is_sharded is false",
        id="search-index-sharded-with-entries",
    ),
    pytest.param(
        DocKind.SEARCH_INDEX,
        _set("shards", DELETE),
        "$.shards: required when is_sharded is true",
        id="search-index-sharded-without-shards",
    ),
    pytest.param(
        DocKind.SEARCH_INDEX,
        _all(_set("is_sharded", False), _set("shards", DELETE)),
        "$.entries: required when is_sharded is false",
        id="search-index-unsharded-without-entries",
    ),
    pytest.param(
        DocKind.SEARCH_SHARD,
        _set("entries.0.url", "../lessons/L1.json"),
        f"$.entries[0].url: {LINK_RULE}",
        id="search-shard-unversioned-entry-url",
    ),
    pytest.param(
        DocKind.SEARCH_SHARD,
        _set("entries.0.access_level", "premium"),
        '$.entries[0].access_level: must be one of "public", "authenticated", "paid", '
        '"free_preview"',
        id="search-shard-unknown-access-level",
    ),
]


@pytest.mark.parametrize(("kind", "change", "expected"), BROKEN)
def test_a_document_broken_on_purpose_names_the_file_and_the_field(
    kind: DocKind, change: Callable[[Doc], None], expected: str
) -> None:
    doc = full(kind)
    change(doc)
    assert problems(kind, doc, "plans/P1/x.json") == [f"plans/P1/x.json: {expected}"]


def test_a_sharded_index_with_both_lists_is_told_which_one_to_drop() -> None:
    doc = full(DocKind.SEARCH_INDEX) | {"is_sharded": False, "entries": []}
    assert problems(DocKind.SEARCH_INDEX, doc) == [
        "doc.json: $.shards: allowed only when is_sharded is true"
    ]


def test_every_missing_and_extra_property_is_named_in_a_stable_order() -> None:
    doc = minimal(DocKind.LESSON)
    del doc["title"], doc["navigation"]
    doc["zeta"] = 1
    doc["alpha"] = 2
    found = validate_document(DocKind.LESSON, doc, "L1.json")
    assert found == [
        Problem("L1.json", "$.alpha", "property is not allowed"),
        Problem("L1.json", "$.navigation", "required property is missing"),
        Problem("L1.json", "$.title", "required property is missing"),
        Problem("L1.json", "$.zeta", "property is not allowed"),
    ]


def test_a_document_that_is_not_an_object_is_one_problem_at_the_root() -> None:
    not_an_object: Any = []
    assert problems(DocKind.MANIFEST, not_an_object, "m.json") == [
        "m.json: $: must be an object, not an array"
    ]


def test_a_problem_reads_file_field_message() -> None:
    problem = Problem("plans/P1/lessons/L1.json", "$.stages[0].weight", "must be a number")
    assert str(problem) == "plans/P1/lessons/L1.json: $.stages[0].weight: must be a number"
