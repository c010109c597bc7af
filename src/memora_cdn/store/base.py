"""The object store protocol every backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class ObjectStore(Protocol):
    """Keys are relative to the store root; the store adds its own prefix, if any."""

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete these keys; keys that do not exist are not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under `prefix`; returns how many were deleted."""
        ...

    def list_keys(self, prefix: str = "") -> Iterator[str]: ...

    def describe(self) -> str:
        """Where this store writes, for messages (never a secret)."""
        ...
