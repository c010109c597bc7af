"""The compiled fast check and the detailed validator agree on every document."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import fastjsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from defaults import default_render_options
from memora_cdn.contracts.schemas import fast_check, full_validator
from memora_cdn.core.access import resolve
from memora_cdn.core.paths import DocKind
from memora_cdn.core.render import render_plan
from memtree import regular_tree


def _documents() -> list[tuple[DocKind, dict[str, Any]]]:
    tree = regular_tree(subjects=2, lessons=2, stages=2)
    # Paid documents (with required_item) and free-preview ones, beside plain ones.
    tree.nodes = [replace(n, required_item="COURSE-1") if n.name == "S1" else n for n in tree.nodes]
    tree.override("Unit", "S1T1U1", "Set Free")
    plain = render_plan(resolve(tree.snapshot()), {}, 1_790_000_000, default_render_options())
    sharded = render_plan(
        resolve(tree.snapshot()), {}, 1_790_000_000, default_render_options(shard_threshold=1)
    )
    return [(d.kind, json.loads(d.body)) for d in (*plain.documents, *sharded.documents)]


DOCUMENTS = _documents()
ODD_VALUES = [None, "", "x", -1, 0, 1.5, True, [], {}, "paid", "2026-01-01T00:00:00Z"]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fast_check_rejects_exactly_what_the_validator_rejects(data: st.DataObject) -> None:
    kind, original = data.draw(st.sampled_from(DOCUMENTS))
    document = copy.deepcopy(original)
    path = data.draw(st.sampled_from(_paths(document)))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(st.sampled_from(ODD_VALUES))
    detailed = list(full_validator(kind).iter_errors(document))
    try:
        fast_check(kind)(document)
        fast_rejects = False
    except fastjsonschema.JsonSchemaException:
        fast_rejects = True
    assert fast_rejects == bool(detailed), (path, detailed)


def test_every_rendered_document_passes_both() -> None:
    for kind, document in DOCUMENTS:
        fast_check(kind)(document)
        assert list(full_validator(kind).iter_errors(document)) == []
