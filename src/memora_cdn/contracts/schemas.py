"""The JSON Schemas shipped with the package, one per kind of document, and their validators."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from memora_cdn.core.paths import DocKind

if TYPE_CHECKING:  # the validators are imported when a document is first checked
    from jsonschema import Draft202012Validator

_PACKAGE = "memora_cdn.contracts"


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
        fast_check(kind)


@cache
def schema(kind: DocKind) -> Mapping[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind of document, as shipped in the package."""
    from jsonschema import Draft202012Validator

    loaded: dict[str, Any] = json.loads(schema_body(kind))
    Draft202012Validator.check_schema(loaded)
    return loaded


@cache
def full_validator(kind: DocKind) -> Draft202012Validator:
    """The validator of `kind` that names every problem (slower than `fast_check`)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(kind), format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def fast_check(kind: DocKind) -> Callable[[Any], Any]:
    """The schema of `kind` compiled to Python code: a fast yes/no before the detailed validator."""
    import fastjsonschema

    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        {k: v for k, v in schema(kind).items() if k != "$schema"}
    )
    return compiled
