"""One published document checked: its bytes parsed strictly, then its schema; each problem named.
Design notes: docs/decisions/contracts.md"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memora_cdn.contracts.schemas import fast_check, full_validator
from memora_cdn.core.paths import DocKind
from memora_cdn.core.strict_json import reject_constant

if TYPE_CHECKING:
    from jsonschema import ValidationError


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


def validate_document(kind: DocKind, document: Mapping[str, Any], file: str) -> list[Problem]:
    """Every way `document` breaks the schema of `kind`, sorted; empty when it is valid.

    Valid documents (nearly all of them, in a build) pass a compiled check; only a document
    that fails it goes through the full validator that names every problem.
    """
    from fastjsonschema import JsonSchemaException

    try:
        fast_check(kind)(document)
    except JsonSchemaException:
        pass
    else:
        return []
    found = {
        problem
        for error in full_validator(kind).iter_errors(document)
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
                yield Problem(file, field_path([*path, name]), _message(error))
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        for name in instance:
            if name not in known:
                yield Problem(file, field_path([*path, name]), "property is not allowed")
    elif error.validator == "not" and isinstance(instance, Mapping):
        # `not: {required: [x]}` is how a schema forbids property x in one case.
        rule = error.validator_value
        for name in _strings(rule.get("required") if isinstance(rule, Mapping) else None):
            if name in instance:
                yield Problem(file, field_path([*path, name]), _message(error))
    else:
        yield Problem(file, field_path(path), _message(error))


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
            return f"must be {names}, not {json_type(error.instance)}"
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


def json_type(value: object) -> str:
    """How a message names the JSON type of a value: `an integer`, `null`."""
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


def field_path(path: Sequence[str | int]) -> str:
    """A JSON path as problems name it: `$.stages[0].weight`."""
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


def check_body(
    kind: DocKind, body: bytes, file: str
) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    """The document in `body` (strict UTF-8 JSON, no NaN/Infinity) and every way it breaks
    the schema of `kind`; None when the bytes are not a JSON object at all. This is what
    the publisher checks before uploading: the bytes themselves, not the data they came from.
    """
    document, problems = parse_body(body, file)
    if document is None:
        return None, problems
    return document, validate_document(kind, document, file)


def parse_body(body: bytes, file: str) -> tuple[Mapping[str, Any] | None, list[Problem]]:
    """The JSON object in `body` (strict UTF-8 JSON, no NaN/Infinity), or None and why not."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=reject_constant)
    except UnicodeDecodeError as exc:
        return None, [Problem(file, "$", f"not UTF-8 text: {exc.reason} at byte {exc.start}")]
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, [Problem(file, "$", f"not valid JSON: {exc.msg} at {where}")]
    except (ValueError, RecursionError) as exc:
        return None, [Problem(file, "$", f"not valid JSON: {exc}")]
    if not isinstance(document, Mapping):
        return None, [Problem(file, "$", f"must be an object, not {json_type(document)}")]
    return document, []
