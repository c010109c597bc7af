"""docs/format.md, the guide for app developers: every example in it is a valid document of
its kind, and it names every field the shipped JSON Schemas define.

An example is a ```json block right after a marker line `<!-- example: KIND -->`, where KIND is
a `DocKind` value (`lesson`, `plans`, …).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from memora_cdn.contracts.document import validate_document
from memora_cdn.contracts.schemas import schema
from memora_cdn.core.paths import DocKind

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "format.md"
EXAMPLE = re.compile(
    r"^<!-- example: (?P<kind>[a-z_]+) -->\n```json\n(?P<body>.*?)\n```$", re.MULTILINE | re.DOTALL
)
JSON_BLOCK = re.compile(r"^```json\n.*?\n```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Example:
    kind: str
    line: int
    body: str

    def __str__(self) -> str:
        return f"{self.kind}@line{self.line}"


def examples(text: str) -> list[Example]:
    return [
        Example(found["kind"], text.count("\n", 0, found.start()) + 1, found["body"])
        for found in EXAMPLE.finditer(text)
    ]


def property_names(node: Any) -> Iterator[str]:
    """Every key of every `properties` object in a schema, at any depth (`$defs` included)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from property_names(value)


def shipped_schemas() -> dict[str, Any]:
    folder = files("memora_cdn.contracts")
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".schema.json")
    }


GUIDE_TEXT = GUIDE.read_text(encoding="utf-8")
EXAMPLES = examples(GUIDE_TEXT)


def test_the_guide_shows_an_example_of_every_document_and_both_forms_of_the_search_index() -> None:
    kinds = sorted(example.kind for example in EXAMPLES)
    expected = ["plans", "manifest", "subject", "unit", "lesson", "search_index", "search_shard"]
    assert kinds == sorted([*expected, "search_index"])
    sharded = [json.loads(e.body)["is_sharded"] for e in EXAMPLES if e.kind == "search_index"]
    assert sorted(sharded) == [False, True]


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_every_example_in_the_guide_is_valid_against_the_schema_of_its_kind(
    example: Example,
) -> None:
    try:
        kind = DocKind(example.kind)
        schema(kind)
    except (ValueError, FileNotFoundError):
        pytest.skip(
            f"this branch ships no {example.kind} schema (DocKind.{example.kind.upper()});"
            " it comes with plans.json"
        )
    document = json.loads(example.body)
    assert validate_document(kind, document, f"docs/format.md:{example.line}") == []


def test_an_example_that_breaks_its_schema_is_reported() -> None:
    """The check above can fail: the guide's lesson with a stage's `weight` as text is invalid."""
    (lesson,) = (json.loads(e.body) for e in EXAMPLES if e.kind == "lesson")
    lesson["stages"][0]["weight"] = "1.0"
    assert validate_document(DocKind.LESSON, lesson, "docs/format.md") != []


def test_the_guide_names_every_field_the_schemas_define_outside_its_examples() -> None:
    prose = JSON_BLOCK.sub("", GUIDE_TEXT)
    names = {name for body in shipped_schemas().values() for name in property_names(body)}
    assert names, "no schema found in memora_cdn.contracts"
    assert sorted(name for name in names if f"`{name}`" not in prose) == []


def test_the_readme_points_to_the_guide() -> None:
    readme = (GUIDE.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/format.md" in readme
