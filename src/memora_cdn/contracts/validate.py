"""Check published documents against their JSON Schemas, and a whole store tree against itself.

`check_body` is what the publisher runs on the bytes of every rendered document before
anything is uploaded (parsed back strictly, then `validate_document`); `validate_tree` is
`memora-cdn validate DIR`: it reads a store root from disk, checks every file against the
schema its key implies, and then resolves every link against the file holding it, as a client
does, and checks that it names a file that exists and whose SHA-256 starts with its `?v=`.

A schema's `errorMessage` (the ajv-errors keyword) is the message for the rule it states: the
conditional branches (`then` / `else`) and the string formats (timestamps, links) carry one;
plain keywords get a short message built here. `description` documents a property.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # the validators are imported when a document is first checked
    from jsonschema import Draft202012Validator, ValidationError

__all__ = [
    "Problem",
    "check_body",
    "compile_validators",
    "schema",
    "schema_body",
    "schemas_digest",
    "validate_document",
    "validate_tree",
]

_PACKAGE = "memora_cdn.contracts"


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with one published file."""

    file: str
    """The file's path relative to the validated root, or its store key."""
    field: str
    """A JSON path into the document (`$.stages[0].weight`); `$` for the whole file."""
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


# --- schemas -------------------------------------------------------------------------------


@cache
def schema_body(kind: DocKind) -> bytes:
    """The JSON Schema of one kind of document, as shipped in the package (and published)."""
    return files(_PACKAGE).joinpath(f"{kind.value}.schema.json").read_bytes()


@cache
def schemas_digest() -> str:
    """SHA-256 over every shipped schema: what a document was validated against. A build
    trusts the index for unchanged documents only while this is what validated them."""
    digest = hashlib.sha256()
    for kind in DocKind:
        digest.update(f"{kind.value}\n{len(schema_body(kind))}\n".encode())
        digest.update(schema_body(kind))
    return digest.hexdigest()


def compile_validators() -> None:
    """Compile every schema's fast check now (once per process; forked builds inherit it)."""
    for kind in DocKind:
        _fast_check(kind)


@cache
def schema(kind: DocKind) -> Mapping[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind of document, as shipped in the package."""
    from jsonschema import Draft202012Validator

    loaded: dict[str, Any] = json.loads(schema_body(kind))
    Draft202012Validator.check_schema(loaded)
    return loaded


@cache
def _validator(kind: DocKind) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(kind), format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def _fast_check(kind: DocKind) -> Callable[[Any], Any]:
    """The schema compiled to Python code: a fast yes/no before the detailed validator."""
    import fastjsonschema

    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        {k: v for k, v in schema(kind).items() if k != "$schema"}
    )
    return compiled


def validate_document(kind: DocKind, document: Mapping[str, Any], file: str) -> list[Problem]:
    """Every way `document` breaks the schema of `kind`, sorted; empty when it is valid.

    Valid documents (nearly all of them, in a build) pass a compiled check; only a document
    that fails it goes through the full validator that names every problem.
    """
    from fastjsonschema import JsonSchemaException

    try:
        _fast_check(kind)(document)
    except JsonSchemaException:
        pass
    else:
        return []
    found = {
        problem
        for error in _validator(kind).iter_errors(document)
        for problem in _problems(error, file)
    }
    return sorted(found)


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _problems(error: ValidationError, file: str) -> Iterator[Problem]:
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        for name in _strings(error.validator_value):
            if name not in instance:
                yield Problem(file, _field([*path, name]), _message(error))
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        for name in instance:
            if name not in known:
                yield Problem(file, _field([*path, name]), "property is not allowed")
    elif error.validator == "not" and isinstance(instance, Mapping):
        # `not: {required: [x]}` is how a schema forbids property x in one case.
        rule = error.validator_value
        for name in _strings(rule.get("required") if isinstance(rule, Mapping) else None):
            if name in instance:
                yield Problem(file, _field([*path, name]), _message(error))
    else:
        yield Problem(file, _field(path), _message(error))


def _message(error: ValidationError) -> str:
    described = error.schema.get("errorMessage") if isinstance(error.schema, Mapping) else None
    if isinstance(described, str):
        return described
    value = error.validator_value
    match error.validator:
        case "required":
            return "required property is missing"
        case "not":
            return "property is not allowed"
        case "type":
            wanted = [value] if isinstance(value, str) else _strings(value)
            names = " or ".join(_TYPE_NAMES.get(name, name) for name in wanted)
            return f"must be {names}, not {_json_type(error.instance)}"
        case "const":
            return f"must be {json.dumps(value)}"
        case "enum":
            options = value if isinstance(value, list) else []
            return "must be one of " + ", ".join(json.dumps(option) for option in options)
        case "minLength" if value == 1:
            return "must not be empty"
        case "minimum":
            return f"must be at least {value}"
        case "pattern":
            return f"must match {value}"
    return error.message


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    return "an array"


def _field(path: Sequence[str | int]) -> str:
    parts = ["$"]
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _IDENTIFIER.match(step):
            parts.append(f".{step}")
        else:
            parts.append(f"[{json.dumps(step)}]")
    return "".join(parts)


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


# --- a store tree on disk ------------------------------------------------------------------


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
            document, found = _parse_body(body, key)
        else:
            document, found = check_body(parsed.kind if parsed else DocKind.PLANS, body, key)
        problems.extend(found)
        if document is None:
            continue
        if key in _SCHEMA_KEYS:
            problems.extend(_check_schema(key, document))
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


def check_body(
    kind: DocKind, body: bytes, file: str
) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    """The document in `body` (strict UTF-8 JSON, no NaN/Infinity) and every way it breaks
    the schema of `kind`; None when the bytes are not a JSON object at all. This is what
    the publisher checks before uploading: the bytes themselves, not the data they came from.
    """
    document, problems = _parse_body(body, file)
    if document is None:
        return None, problems
    return document, validate_document(kind, document, file)


def _parse_body(body: bytes, file: str) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    """The JSON object in `body` (strict UTF-8 JSON, no NaN/Infinity), or None and why not."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        return None, [Problem(file, "$", f"not UTF-8 text: {exc.reason} at byte {exc.start}")]
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, [Problem(file, "$", f"not valid JSON: {exc.msg} at {where}")]
    except (ValueError, RecursionError) as exc:
        return None, [Problem(file, "$", f"not valid JSON: {exc}")]
    if not isinstance(document, Mapping):
        return None, [Problem(file, "$", f"must be an object, not {_json_type(document)}")]
    return document, []


def _check_schema(key: str, document: Mapping[str, Any]) -> Iterator[Problem]:
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(document)
    except SchemaError as exc:
        where = _field(list(exc.absolute_path))
        yield Problem(key, where, f"not a valid JSON Schema: {exc.message}")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


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
