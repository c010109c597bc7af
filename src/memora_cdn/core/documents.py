"""Document bytes: compact JSON, content hashes, version stamps and versioned links.
Design notes: docs/decisions/content-hash.md"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from memora_cdn.core.links import VERSION_HEX, link
from memora_cdn.core.paths import DocKind

SCHEMA_VERSION = 1
_STAMPS = frozenset({"schema_version", "version", "generated_at"})
"""The fields `stamp` writes: never part of the content it is given."""
_UNHASHED = frozenset({"version", "generated_at"})
"""The fields the content hash leaves out: they follow from the version, not the content."""


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is, keys in the order given."""
    return orjson.dumps(value)


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data`, as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def iso_utc(unix_seconds: int) -> str:
    """`generated_at` for a version: ISO 8601 UTC to the second, with `Z`."""
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of a document without `version`/`generated_at`, its keys sorted at every depth:
    equal content gives an equal hash whatever the order of its keys."""
    unstamped = {name: value for name, value in document.items() if name not in _UNHASHED}
    return sha256_hex(orjson.dumps(unstamped, option=orjson.OPT_SORT_KEYS))


def stamp(content: Mapping[str, Any], version: int) -> dict[str, Any]:
    """`content` as a document of this `version`: `schema_version`, `version` and
    `generated_at` first (SPEC §3), then the content in its own order."""
    return {
        "schema_version": SCHEMA_VERSION,
        "version": version,
        "generated_at": iso_utc(version),
        **content,
    }


def body_version(body: bytes) -> str:
    """The `?v=` of links to a file with these bytes (SPEC §3 "Links")."""
    return sha256_hex(body)[:VERSION_HEX]


@dataclass(frozen=True, slots=True)
class Published:
    """What the published index knows of one key: the diff base."""

    sha256: str
    """`content_hash` of the body."""
    version: int
    size: int = 0
    expires_at: int | None = None
    """For a lesson with signed media URLs: when the first of them expires (Unix seconds)."""

    @classmethod
    def from_body(cls, body: bytes | None) -> Published | None:
        """What a stored body says of itself, as the index records it (content hash, version,
        size); None when there is no body or it is not a JSON object with an integer version."""
        if body is None:
            return None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(document, dict) or not isinstance(document.get("version"), int):
            return None
        return cls(content_hash(document), document["version"], len(body))


@dataclass(frozen=True, slots=True)
class Document:
    """One rendered file: its key, kind, bytes and what the index records of it."""

    key: str
    """Store key, relative to the store root and without the store prefix."""
    kind: DocKind
    body: bytes
    content_hash: str
    version: int
    content: Mapping[str, Any]
    """The document as data (with `version` and `generated_at`), for validation."""
    expires_at: int | None = None
    """When the first signed URL in it expires (lessons with signed media only)."""

    @property
    def size(self) -> int:
        return len(self.body)


def finalize(
    key: str,
    kind: DocKind,
    content: Mapping[str, Any],
    previous: Published | None,
    now: int,
    expires_at: int | None = None,
) -> Document:
    """Stamp a document with its version: unchanged content (an equal `content_hash`) keeps
    the published version, and so its bytes; changed content takes `now`."""
    if not _STAMPS.isdisjoint(content):
        raise ValueError(f"{key}: content may not hold {sorted(_STAMPS & set(content))}")
    digest = content_hash({"schema_version": SCHEMA_VERSION, **content})
    version = previous.version if previous and previous.sha256 == digest else now
    stamped = stamp(content, version)
    return Document(key, kind, dumps(stamped), digest, version, stamped, expires_at)


def versioned_link(from_key: str, document: Document) -> str:
    """The link from the document at `from_key` to `document`, relative to the holder and
    changing whenever the linked file's bytes do (SPEC §3 "Links")."""
    return link(from_key, document.key, body_version(document.body))
