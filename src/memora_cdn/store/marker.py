"""The marker object at a store's root: written once, so that a wiped or swapped store is
noticed before the published index is trusted as the diff base (SPEC §6)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import orjson

from memora_cdn.errors import StoreWipedError
from memora_cdn.store.base import JSON_CONTENT_TYPE, MARKER, ObjectStore


def write_marker(store: ObjectStore, store_id: str | None = None) -> None:
    """Mark the store: its identity and a random id, written once."""
    body = orjson.dumps({"identity": store.identity, "store_id": store_id or secrets.token_hex(16)})
    store.put(MARKER, body, content_type=JSON_CONTENT_TYPE, cache_control="no-cache")
    store.sync()


def adopt(store: ObjectStore) -> None:
    """Mark a store published to before stores carried markers (its index was kept)."""
    if store.get(MARKER) is None:
        write_marker(store)


def ensure_marker(store: ObjectStore, indexed: Callable[[], int]) -> None:
    """Before a publish trusts the index: the marker is there, or the index holds nothing on
    this store (a new one), which is marked now. `indexed`: how many files the index says
    the store holds. Raises `StoreWipedError` for a store the index knows but that lost its
    marker: it was emptied or swapped, and the index no longer says what it holds."""
    if store.get(MARKER) is not None:
        return
    count = indexed()
    if not count:
        write_marker(store)
    elif store.get(MARKER) is None:  # not marked since by another build's first upload
        raise StoreWipedError(store.identity, count, MARKER)
