"""The object store protocol every backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

MARKER = ".memora-cdn-store.json"
"""The store's marker object at its root (never a plan key; `list_keys` leaves it out)."""

REPAIR_DELETE_LIMIT = 10
"""A repair deleting more files than this needs `yes` (`--yes`)."""


class ObjectStore(Protocol):
    """Keys are relative to the store root; the store adds its own prefix, if any."""

    @property
    def identity(self) -> str:
        """The store's identity, which keys the published index (SPEC §6): its URL with
        bucket and prefix (and endpoint host), never a secret."""
        ...

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        """Store `body` under `key` atomically: a reader finds the old body or the new one,
        never part of it. Durable once `sync` returns (at once on S3)."""
        ...

    def sync(self) -> None:
        """Make every `put` and `delete` so far durable: called before the published index
        records them, so that the index never claims a file a crash could lose."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete these keys (or partial files); keys that do not exist are not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under `prefix`; returns how many were deleted."""
        ...

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under `prefix`, except the store's `MARKER` and partial files."""
        ...

    def partials(self, prefix: str = "") -> list[str]:
        """Files under `prefix` left by writes that never finished (a killed process), named
        like keys so that `delete` removes them; none on a store whose writes are atomic."""
        ...

    def describe(self) -> str:
        """Where this store writes, for messages (never a secret)."""
        ...
