"""Document bytes: canonical JSON, content hashes, versions and versioned links."""

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
"""The fields `finalize` writes: never part of the content it is given."""


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is, keys in the order given."""
    return orjson.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def iso_utc(unix_seconds: int) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Published:
    """What the published index knows of one key: the diff base."""

    sha256: str
    """SHA-256 of the body without `version`/`generated_at`."""
    version: int
    size: int = 0
    expires_at: int | None = None
    """For a lesson with signed media URLs: when the first of them expires (Unix seconds)."""


@dataclass(frozen=True, slots=True)
class Document:
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

    @property
    def body_hash(self) -> str:
        return sha256_hex(self.body)


def finalize(
    key: str,
    kind: DocKind,
    content: Mapping[str, Any],
    previous: Published | None,
    now: int,
    expires_at: int | None = None,
) -> Document:
    """Stamp a document with its version: unchanged content keeps its version and bytes.

    The content is encoded once: the hashed bytes and the body differ only in the stamp
    after `schema_version`, exactly as `dumps` writes the stamped document.
    """
    if not _STAMPS.isdisjoint(content):
        raise ValueError(f"{key}: content may not hold {sorted(_STAMPS & set(content))}")
    encoded = dumps(content)
    rest = b"}" if encoded == b"{}" else b"," + encoded[1:]
    head = b'{"schema_version":%d' % SCHEMA_VERSION
    content_hash = sha256_hex(head + rest)
    version = previous.version if previous and previous.sha256 == content_hash else now
    generated_at = iso_utc(version)
    body = head + b',"version":%d,"generated_at":"%s"' % (version, generated_at.encode()) + rest
    stamped = {
        "schema_version": SCHEMA_VERSION,
        "version": version,
        "generated_at": generated_at,
        **content,
    }
    return Document(key, kind, body, content_hash, version, stamped, expires_at)


def versioned_link(from_key: str, document: Document) -> str:
    """The link from the document at `from_key` to `document`, relative to the holder and
    changing whenever the linked file's bytes do (SPEC §3 "Links")."""
    return link(from_key, document.key, document.body_hash[:VERSION_HEX])
