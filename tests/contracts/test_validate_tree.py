"""`validate_tree`: a store tree on disk checked file by file, then link by link."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from memora_cdn.contracts.document import Problem
from memora_cdn.contracts.schemas import schema_body
from memora_cdn.contracts.tree import validate_tree
from memora_cdn.core import paths
from memora_cdn.core.paths import DocKind, readable, segment

Doc = dict[str, Any]
HEADER: Doc = {"schema_version": 1, "version": 1717000000, "generated_at": "2024-05-29T16:26:40Z"}
PUBLIC: Doc = {
    "is_published": True,
    "access_level": "public",
    "is_sold_separately": False,
    "parent_item_required": False,
}


def body(doc: Doc) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def write(root: Path, key: str, doc: Doc | bytes) -> str:
    """Write a file at `key` and return its link from the plan's folder (`plans/P1/`):
    `lessons/L1.json?v=…`, which a manifest or search index holds as it is and a unit or
    subject (one folder down) holds after `../`."""
    data = doc if isinstance(doc, bytes) else body(doc)
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"{key.removeprefix('plans/P1/')}?v={hashlib.sha256(data).hexdigest()[:12]}"


def lesson(lesson_id: str = "L1", plan: str = "P1") -> Doc:
    return HEADER | {
        "id": lesson_id,
        "plan_id": plan,
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
        "stages": [{"idx": 1, "type": "Text", "weight": 1, "is_skippable": False, "config": {}}],
    }


def unit(lesson_url: str) -> Doc:
    return HEADER | {
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
        "topics": [
            {
                "id": "T1",
                "title": "Parts",
                "sort_order": 1,
                "is_linear": False,
                "access": PUBLIC,
                "lessons": [
                    {
                        "id": "L1",
                        "title": "Fractions",
                        "sort_order": 1,
                        "url": lesson_url,
                        "access": PUBLIC,
                        "stage_count": 1,
                    }
                ],
            }
        ],
        "stats": {"topics": 1, "lessons": 1},
    }


def subject(unit_url: str) -> Doc:
    return HEADER | {
        "id": "S1",
        "plan_id": "P1",
        "title": "Maths",
        "is_linear": False,
        "access": PUBLIC,
        "tracks": [
            {
                "id": "TR1",
                "title": "Core",
                "sort_order": 1,
                "is_linear": False,
                "access": PUBLIC,
                "units": [
                    {
                        "id": "U1",
                        "title": "Numbers",
                        "sort_order": 1,
                        "is_linear": False,
                        "url": unit_url,
                        "access": PUBLIC,
                        "stats": {"topics": 1, "lessons": 1},
                    }
                ],
            }
        ],
        "stats": {"tracks": 1, "units": 1, "topics": 1, "lessons": 1},
    }


def entry(url: str) -> Doc:
    return {
        "lesson_id": "L1",
        "lesson_title": "Fractions",
        "topic_id": "T1",
        "unit_id": "U1",
        "unit_title": "Numbers",
        "subject_id": "S1",
        "subject_title": "Maths",
        "access_level": "public",
        "url": url,
    }


def search_index(entries: list[Doc]) -> Doc:
    return HEADER | {
        "plan_id": "P1",
        "total_lessons": len(entries),
        "is_sharded": False,
        "entries": entries,
    }


def manifest(subject_url: str, search_index_url: str) -> Doc:
    return HEADER | {
        "plan_id": "P1",
        "title": "Grade 5",
        "subjects": [
            {
                "id": "S1",
                "title": "Maths",
                "sort_order": 1,
                "is_linear": False,
                "url": subject_url,
                "access": PUBLIC,
                "stats": {"tracks": 1, "units": 1, "topics": 1, "lessons": 1},
            }
        ],
        "search_index_url": search_index_url,
        "stats": {"subjects": 1, "tracks": 1, "units": 1, "topics": 1, "lessons": 1},
    }


def publish(root: Path) -> dict[str, str]:
    """Write one consistent plan, children first; return each document's link from the
    plan's folder."""
    links: dict[str, str] = {}
    links["lesson"] = write(root, "plans/P1/lessons/L1.json", lesson())
    links["unit"] = write(root, "plans/P1/units/U1.json", unit("../" + links["lesson"]))
    links["subject"] = write(root, "plans/P1/subjects/S1.json", subject("../" + links["unit"]))
    index = search_index([entry(links["lesson"])])
    links["search_index"] = write(root, "plans/P1/search_index.json", index)
    links["manifest"] = write(
        root, "plans/P1/manifest.json", manifest(links["subject"], links["search_index"])
    )
    return links


def found(root: Path) -> list[str]:
    return [str(problem) for problem in validate_tree(root)]


def test_a_consistent_tree_has_no_problems(tmp_path: Path) -> None:
    publish(tmp_path)
    assert found(tmp_path) == []


def test_a_link_written_from_the_store_root_is_reported(tmp_path: Path) -> None:
    # Before SPEC §3 "Links", links were keys from the store root and validate read them so;
    # resolved against the manifest's URL such a link leads to plans/P1/plans/P1/subjects/.
    links = publish(tmp_path)
    rooted = "plans/P1/" + links["subject"]
    write(tmp_path, "plans/P1/manifest.json", manifest(rooted, links["search_index"]))
    assert found(tmp_path) == [
        f"plans/P1/manifest.json: $.subjects[0].url: link {rooted}"
        " does not name a subject document of plan 'P1'"
    ]


def test_a_link_must_encode_a_percent_encoded_key_once_more(tmp_path: Path) -> None:
    # The file's name is the key `a%20b.json`; a server decodes `a%20b.json` in a URL to
    # `a b.json`, so the link must say `a%2520b.json`.
    links = publish(tmp_path)
    version = write(tmp_path, "plans/P1/lessons/a%20b.json", lesson("a b")).partition("?")[2]
    good, once = f"lessons/a%2520b.json?{version}", f"lessons/a%20b.json?{version}"
    index = search_index([entry(links["lesson"]), entry(good), entry(once)])
    index_link = write(tmp_path, "plans/P1/search_index.json", index)
    write(tmp_path, "plans/P1/manifest.json", manifest(links["subject"], index_link))
    assert found(tmp_path) == [
        f"plans/P1/search_index.json: $.entries[2].url: link {once}"
        " names plans/P1/lessons/a b.json, which does not exist"
    ]


def test_a_search_entry_whose_version_no_longer_matches_its_lesson_is_stale(
    tmp_path: Path,
) -> None:
    links = publish(tmp_path)
    new_link = write(tmp_path, "plans/P1/lessons/L1.json", lesson() | {"title": "Halves"})
    unit_link = write(tmp_path, "plans/P1/units/U1.json", unit("../" + new_link))
    subject_link = write(tmp_path, "plans/P1/subjects/S1.json", subject("../" + unit_link))
    write(tmp_path, "plans/P1/manifest.json", manifest(subject_link, links["search_index"]))
    assert found(tmp_path) == [
        f"plans/P1/search_index.json: $.entries[0].url: link {links['lesson']} is stale:"
        f" plans/P1/lessons/L1.json is now at ?v={new_link.rpartition('=')[2]}"
    ]


def test_a_link_leading_out_of_the_store_is_reported(tmp_path: Path) -> None:
    links = publish(tmp_path)
    away = "../../../../subjects/S1.json?v=0123456789ab"
    write(tmp_path, "plans/P1/manifest.json", manifest(away, links["search_index"]))
    assert found(tmp_path) == [
        f"plans/P1/manifest.json: $.subjects[0].url: link {away} leads out of the store"
    ]


def test_a_sharded_index_is_checked_through_its_shard_files(tmp_path: Path) -> None:
    links = publish(tmp_path)
    entries = [entry("../../" + links["lesson"])]
    shard = HEADER | {"plan_id": "P1", "subject_id": "S1", "entries": entries}
    shard_link = write(tmp_path, "plans/P1/search/S1/1.json", shard)
    index = HEADER | {
        "plan_id": "P1",
        "total_lessons": 1,
        "is_sharded": True,
        "shards": [
            {"subject_id": "S1", "subject_title": "Maths", "lesson_count": 1, "url": shard_link}
        ],
    }
    index_link = write(tmp_path, "plans/P1/search_index.json", index)
    write(tmp_path, "plans/P1/manifest.json", manifest(links["subject"], index_link))
    assert found(tmp_path) == []


def test_a_link_to_a_missing_file_is_reported(tmp_path: Path) -> None:
    links = publish(tmp_path)
    broken = "subjects/S9.json?v=0123456789ab"
    write(tmp_path, "plans/P1/manifest.json", manifest(broken, links["search_index"]))
    assert found(tmp_path) == [
        "plans/P1/manifest.json: $.subjects[0].url: link subjects/S9.json?v=0123456789ab"
        " names plans/P1/subjects/S9.json, which does not exist"
    ]


def test_a_link_whose_version_no_longer_matches_the_file_is_stale(tmp_path: Path) -> None:
    links = publish(tmp_path)
    changed = subject("../" + links["unit"]) | {"title": "Mathematics"}
    new_link = write(tmp_path, "plans/P1/subjects/S1.json", changed)
    assert found(tmp_path) == [
        f"plans/P1/manifest.json: $.subjects[0].url: link {links['subject']} is stale:"
        f" plans/P1/subjects/S1.json is now at ?v={new_link.rpartition('=')[2]}"
    ]


def test_a_search_entry_must_name_an_existing_lesson(tmp_path: Path) -> None:
    links = publish(tmp_path)
    missing = "lessons/L2.json?v=0123456789ab"
    index = search_index([entry(links["lesson"]), entry(missing)])
    index_link = write(tmp_path, "plans/P1/search_index.json", index)
    write(tmp_path, "plans/P1/manifest.json", manifest(links["subject"], index_link))
    assert found(tmp_path) == [
        f"plans/P1/search_index.json: $.entries[1].url: link {missing}"
        " names plans/P1/lessons/L2.json, which does not exist"
    ]


def test_a_link_to_the_wrong_kind_of_document_is_reported(tmp_path: Path) -> None:
    links = publish(tmp_path)
    write(tmp_path, "plans/P1/manifest.json", manifest(links["lesson"], links["search_index"]))
    assert found(tmp_path) == [
        f"plans/P1/manifest.json: $.subjects[0].url: link {links['lesson']}"
        " does not name a subject document of plan 'P1'"
    ]


def test_a_file_that_is_not_a_document_is_reported(tmp_path: Path) -> None:
    publish(tmp_path)
    write(tmp_path, "notes.txt", b"hello")
    write(tmp_path, "plans/P1/lessons/L1.json.bak", b"{}")
    assert found(tmp_path) == [
        "notes.txt: $: not a memora-cdn document",
        "plans/P1/lessons/L1.json.bak: $: not a memora-cdn document",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"id": ', "not valid JSON: Expecting value at line 1 column 8"),
        (b'{"id": NaN}', "not valid JSON: NaN is not a JSON number"),
        (b'{"id": "\xff"}', "not UTF-8 text: invalid start byte at byte 8"),
        (b"[]", "must be an object, not an array"),
    ],
    ids=["truncated", "nan", "latin-1", "array"],
)
def test_a_file_that_is_not_a_json_object_is_reported_once(
    tmp_path: Path, data: bytes, message: str
) -> None:
    publish(tmp_path)
    write(tmp_path, "plans/P1/lessons/L2.json", data)
    assert found(tmp_path) == [f"plans/P1/lessons/L2.json: $: {message}"]


def test_schema_problems_name_the_file_by_its_key(tmp_path: Path) -> None:
    publish(tmp_path)
    write(tmp_path, "plans/P1/lessons/L2.json", lesson("L2") | {"navigation": None})
    assert validate_tree(tmp_path) == [
        Problem("plans/P1/lessons/L2.json", "$.navigation", "must be an object, not null")
    ]


def test_a_document_names_the_plan_and_node_of_its_path(tmp_path: Path) -> None:
    publish(tmp_path)
    write(tmp_path, "plans/P1/lessons/L2.json", lesson("L3", plan="P2"))
    assert found(tmp_path) == [
        "plans/P1/lessons/L2.json: $.id: is 'L3' but the file is named for 'L2'",
        "plans/P1/lessons/L2.json: $.plan_id: is 'P2' but the file lies in plan 'P1'",
    ]


def test_a_percent_encoded_plan_folder_matches_the_plain_plan_id(tmp_path: Path) -> None:
    write(tmp_path, "plans/Grade%205/lessons/L%2F1.json", lesson("L/1", plan="Grade 5"))
    assert found(tmp_path) == []


def test_a_cut_and_hashed_file_name_matches_its_long_name_and_no_other(tmp_path: Path) -> None:
    plan, name, other = "خطة " * 60, "L" * 400, "L" * 399 + "M"  # one cut form, two hashes
    key = paths.lesson_key(plan, name)
    write(tmp_path, key, lesson(name, plan=plan))
    assert found(tmp_path) == []
    write(tmp_path, key, lesson(other, plan=plan + "x"))
    shown_plan, shown_name = readable(segment(plan)), readable(segment(name))
    assert found(tmp_path) == [
        f"{key}: $.id: is {other!r} but the file is named for {shown_name!r}",
        f"{key}: $.plan_id: is {plan + 'x'!r} but the file lies in plan {shown_plan!r}",
    ]


def test_a_directory_without_plans_holds_no_published_plans(tmp_path: Path) -> None:
    write(tmp_path, "other/file.json", b"{}")
    assert found(tmp_path) == [".: $: no plans/ folder: the directory holds no published plans"]


def plans_json(*plans: str) -> Doc:
    listed = [{"id": p, "title": p, "manifest_url": f"plans/{p}/manifest.json"} for p in plans]
    return HEADER | {"plans": listed}


def publish_store_files(root: Path, *plans: str) -> None:
    write(root, paths.PLANS_KEY, plans_json(*plans))
    for kind in DocKind:
        write(root, paths.schema_key(kind), schema_body(kind))


def test_plans_json_and_the_published_schemas_are_part_of_a_consistent_tree(
    tmp_path: Path,
) -> None:
    publish(tmp_path)
    publish_store_files(tmp_path, "P1")
    assert found(tmp_path) == []


def test_a_plans_json_link_to_a_missing_manifest_is_reported(tmp_path: Path) -> None:
    publish(tmp_path)
    publish_store_files(tmp_path, "P1", "P2")
    assert found(tmp_path) == [
        "plans.json: $.plans[1].manifest_url: link plans/P2/manifest.json names"
        " plans/P2/manifest.json, which does not exist"
    ]


def test_plans_json_is_checked_against_its_schema(tmp_path: Path) -> None:
    publish(tmp_path)
    publish_store_files(tmp_path)
    write(tmp_path, paths.PLANS_KEY, plans_json("P1") | {"extra": True})
    assert found(tmp_path) == ["plans.json: $.extra: property is not allowed"]


def test_an_unknown_or_invalid_published_schema_is_reported(tmp_path: Path) -> None:
    publish(tmp_path)
    publish_store_files(tmp_path, "P1")
    write(tmp_path, "schemas/v1/quiz.schema.json", b"{}")
    write(tmp_path, paths.schema_key(DocKind.UNIT), {"type": "objet"})
    assert found(tmp_path) == [
        "schemas/v1/quiz.schema.json: $: not a memora-cdn schema",
        "schemas/v1/unit.schema.json: $.type: not a valid JSON Schema:"
        " 'objet' is not valid under any of the given schemas",
    ]


def test_a_valid_published_schema_other_than_the_shipped_one_is_checked_and_accepted(
    tmp_path: Path,
) -> None:
    """The shipped schema's bytes are known valid; other bytes get the metaschema check."""
    publish(tmp_path)
    publish_store_files(tmp_path, "P1")
    shipped = json.loads(schema_body(DocKind.UNIT))
    write(tmp_path, paths.schema_key(DocKind.UNIT), json.dumps(shipped, indent=1).encode())
    write(tmp_path, paths.schema_key(DocKind.LESSON), {**shipped, "minProperties": -1})
    assert found(tmp_path) == [
        "schemas/v1/lesson.schema.json: $.minProperties: not a valid JSON Schema:"
        " -1 is less than the minimum of 0",
    ]
