"""A store tree on disk checked against its schemas and itself: `memora-cdn validate DIR`.
Design notes: docs/decisions/contracts.md"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memora_cdn.contracts.document import Problem, check_body, field_path, parse_body
from memora_cdn.contracts.schemas import schema, schema_body
from memora_cdn.core.links import VERSION_HEX, link_version, resolve_link
from memora_cdn.core.paths import (
    PLANS_KEY,
    SCHEMAS_PREFIX,
    DocKind,
    ParsedKey,
    parse_key,
    readable,
    schema_key,
    segment,
)
from memora_cdn.errors import StoreError
from memora_cdn.store.local import FileStore


@dataclass(frozen=True, slots=True)
class _Link:
    field: str
    url: str
    kind: DocKind
    """The kind of document the link must name."""
    versioned: bool


_SCHEMA_KEYS = {schema_key(kind): kind for kind in DocKind}


def validate_tree(root: Path) -> list[Problem]:
    """Every problem in the store tree at `root` (a folder holding `plans/` and `plans.json`),
    sorted. The published JSON Schemas under `schemas/v1/` are checked to be valid schemas of
    documents we publish."""
    if not (root / "plans").is_dir() and not (root / PLANS_KEY).is_file():
        return [Problem(".", "$", "no plans/ folder: the directory holds no published plans")]
    problems: list[Problem] = []
    digests: dict[str, str] = {}
    documents: dict[str, tuple[ParsedKey, Mapping[str, Any]]] = {}
    listing: Mapping[str, Any] | None = None
    store = FileStore(root)  # the layout the folder store writes
    for key in sorted(store.list_keys()):
        parsed = parse_key(key)
        known = key == PLANS_KEY or key in _SCHEMA_KEYS
        if parsed is None and not known:
            what = "schema" if key.startswith(SCHEMAS_PREFIX) else "document"
            problems.append(Problem(key, "$", f"not a memora-cdn {what}"))
            continue
        try:
            body = store.get(key)
        except StoreError as exc:
            problems.append(Problem(key, "$", f"cannot be read: {exc.detail}"))
            continue
        if body is None:  # removed while we looked
            continue
        digests[key] = hashlib.sha256(body).hexdigest()
        if key in _SCHEMA_KEYS:
            document, found = parse_body(body, key)
        else:
            document, found = check_body(parsed.kind if parsed else DocKind.PLANS, body, key)
        problems.extend(found)
        if document is None:
            continue
        if key in _SCHEMA_KEYS:
            problems.extend(_check_schema(key, _SCHEMA_KEYS[key], body, document))
        elif parsed is None:
            listing = document
        else:
            problems.extend(_identity(key, parsed, document))
            documents[key] = (parsed, document)
    for key, (parsed, document) in documents.items():
        for link in _links(parsed.kind, document):
            problems.extend(_check_link(key, parsed.plan_segment, link, digests))
    if listing is not None:
        for index, plan in _items(listing.get("plans")):
            url, plan_id = plan.get("manifest_url"), plan.get("id")
            if isinstance(url, str) and isinstance(plan_id, str):
                link = _Link(f"$.plans[{index}].manifest_url", url, DocKind.MANIFEST, False)
                problems.extend(_check_link(PLANS_KEY, segment(plan_id), link, digests))
    return sorted(problems)


def _check_schema(
    key: str, kind: DocKind, body: bytes, document: Mapping[str, Any]
) -> Iterator[Problem]:
    """Problems of a published schema; the shipped schema's own bytes were checked once, when
    this process loaded it (checking a schema against the metaschema takes ~40 ms)."""
    from jsonschema import Draft202012Validator, SchemaError

    if body == schema_body(kind):
        schema(kind)  # checked as it loads
        return
    try:
        Draft202012Validator.check_schema(document)
    except SchemaError as exc:
        where = field_path(list(exc.absolute_path))
        yield Problem(key, where, f"not a valid JSON Schema: {exc.message}")


def _identity(key: str, parsed: ParsedKey, document: Mapping[str, Any]) -> Iterator[Problem]:
    """A document names the plan of its folder and, for a node, the node of its file name.

    Names are compared by their segments: a long name is cut and hashed in its key.
    """
    plan_id = document.get("plan_id")
    if isinstance(plan_id, str) and not parsed.in_plan(plan_id):
        plan = readable(parsed.plan_segment)
        yield Problem(key, "$.plan_id", f"is {plan_id!r} but the file lies in plan {plan!r}")
    node_id = document.get("id")
    named = parsed.kind in (DocKind.SUBJECT, DocKind.UNIT, DocKind.LESSON)
    if named and isinstance(node_id, str) and not parsed.is_named(node_id):
        name = readable(parsed.name_segment or "")
        yield Problem(key, "$.id", f"is {node_id!r} but the file is named for {name!r}")


def _links(kind: DocKind, document: Mapping[str, Any]) -> Iterator[_Link]:
    """The links a document holds, wherever its shape lets them be found."""
    if kind is DocKind.MANIFEST:
        yield from _urls(document, "$", ["subjects"], DocKind.SUBJECT, versioned=True)
        url = document.get("search_index_url")
        if isinstance(url, str):
            yield _Link("$.search_index_url", url, DocKind.SEARCH_INDEX, versioned=True)
    elif kind is DocKind.SUBJECT:
        yield from _urls(document, "$", ["tracks", "units"], DocKind.UNIT, versioned=True)
    elif kind is DocKind.UNIT:
        yield from _urls(document, "$", ["topics", "lessons"], DocKind.LESSON, versioned=True)
    elif kind is DocKind.SEARCH_INDEX:
        yield from _urls(document, "$", ["shards"], DocKind.SEARCH_SHARD, versioned=True)
        yield from _urls(document, "$", ["entries"], DocKind.LESSON, versioned=True)
    elif kind is DocKind.SEARCH_SHARD:
        yield from _urls(document, "$", ["entries"], DocKind.LESSON, versioned=True)


def _urls(
    node: Mapping[str, Any], field: str, lists: list[str], kind: DocKind, *, versioned: bool
) -> Iterator[_Link]:
    """The `url` of every item reached by following the named lists, one level each."""
    name, rest = lists[0], lists[1:]
    for index, item in _items(node.get(name)):
        here = f"{field}.{name}[{index}]"
        if rest:
            yield from _urls(item, here, rest, kind, versioned=versioned)
        elif isinstance(url := item.get("url"), str):
            yield _Link(f"{here}.url", url, kind, versioned)


def _items(value: object) -> Iterable[tuple[int, Mapping[str, Any]]]:
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, Mapping)]


def _check_link(
    key: str, plan_segment: str, link: _Link, digests: Mapping[str, str]
) -> Iterator[Problem]:
    """A link resolved against the URL of the file holding it, as any client does (SPEC §3
    "Links"): its decoded path must be the key of an existing file of the right kind in the
    same plan, and its `?v=` the start of that file's SHA-256."""
    target = resolve_link(key, link.url)
    if target is None:
        yield Problem(key, link.field, f"link {link.url} leads out of the store")
        return
    parsed = parse_key(target)
    if parsed is None or parsed.kind is not link.kind or parsed.plan_segment != plan_segment:
        wanted = f"a {link.kind.value} document of plan {readable(plan_segment)!r}"
        yield Problem(key, link.field, f"link {link.url} does not name {wanted}")
        return
    digest = digests.get(target)
    version = link_version(link.url) or ""
    if digest is None:
        yield Problem(key, link.field, f"link {link.url} names {target}, which does not exist")
    elif link.versioned and not (version and digest.startswith(version)):
        yield Problem(
            key,
            link.field,
            f"link {link.url} is stale: {target} is now at ?v={digest[:VERSION_HEX]}",
        )
