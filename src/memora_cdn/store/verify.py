"""`memora-cdn verify`: does the store hold exactly what the published index says? With
`repair`, make them agree. Design notes: docs/decisions/store-verify.md"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from memora_cdn.core.documents import Published
from memora_cdn.core.links import resolve_link
from memora_cdn.core.paths import DocKind, parse_key, readable, segment
from memora_cdn.errors import RepairRefusedError, StoreError, StoreListingError
from memora_cdn.state.repo import StateRepository
from memora_cdn.store.base import MARKER, REPAIR_DELETE_LIMIT, ObjectStore
from memora_cdn.store.marker import write_marker

PLANS = "plans/"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify` found, and what its repair did or would do."""

    checked: int
    """Indexed keys whose body was read and compared."""
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    corrupt: tuple[str, ...]
    repaired: bool = False
    plans_to_rebuild: tuple[str, ...] = ()
    """With `repair`: the plans whose next build restores what was missing or corrupt."""
    partial: tuple[str, ...] = ()
    linked: tuple[str, ...] = ()
    """Unexpected keys that a current manifest links (or that are one): never deleted."""
    deleted: tuple[str, ...] = ()
    """With `repair`: the unexpected and partial files deleted (`dry_run`: to be deleted)."""
    marker_missing: bool = False
    """The index holds files for this store, but the store has no marker."""
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        drift = self.missing or self.unexpected or self.corrupt or self.partial
        return not (drift or self.marker_missing)

    @property
    def reupload(self) -> tuple[str, ...]:
        """The keys a repair has the rebuild upload again."""
        return tuple(sorted(self.missing + self.corrupt))


def verify(
    store: ObjectStore,
    state: StateRepository,
    *,
    repair: bool,
    dry_run: bool = False,
    yes: bool = False,
    concurrency: int = 16,
) -> VerifyReport:
    """Compare; with `repair` (and not `dry_run`), make them agree (docs/decisions/store-verify.md).
    `yes`: allow deleting more than `REPAIR_DELETE_LIMIT` files, and re-uploading everything
    to a store that lists as empty."""
    identity = store.identity
    index = {p.plan_id: state.published(identity, p.plan_id) for p in state.publications(identity)}
    indexed = sum(len(keys) for keys in index.values())
    try:
        listed = sorted(store.list_keys(PLANS))
    except StoreError as error:
        if indexed:
            raise StoreListingError(identity, indexed, error.detail) from None
        raise
    if indexed and not listed and not (repair and yes):
        raise StoreListingError(identity, indexed)

    stored = _group(listed)
    # Folders are matched to plans by segment: a long plan name is cut and hashed in its folder.
    indexed_folders = {segment(plan): plan for plan in index}
    unknown = {f: readable(f) for f in stored if f and f not in indexed_folders}
    missing: list[str] = []
    unexpected: list[str] = list(stored.get(None, ()))
    present: dict[str, Published] = {}
    owner: dict[str, str] = {}
    unknown_folders: list[str] = []
    for folder, plan in sorted((indexed_folders | unknown).items(), key=lambda item: item[1]):
        entries = index.get(plan, {}) if folder in indexed_folders else {}
        keys = stored.get(folder, set())
        if keys and not entries:
            unknown_folders.append(plan)
        missing += [key for key in entries if key not in keys]
        unexpected += [key for key in keys if key not in entries]
        for key, entry in entries.items():
            owner[key] = plan
            if key in keys:
                present[key] = entry
    corrupt, links = _examine(store, present, concurrency)
    linked = _reachable(store, listed, links) & set(unexpected) if unexpected else set()
    doomed = sorted(set(unexpected) - linked)
    partial = sorted(store.partials())
    marker_missing = bool(indexed) and store.get(MARKER) is None

    rebuild: set[str] = set()
    if repair:
        if len(doomed) > REPAIR_DELETE_LIMIT and not yes:
            raise RepairRefusedError(len(doomed), REPAIR_DELETE_LIMIT)
        stale: dict[str, list[str]] = defaultdict(list)
        for key in missing + corrupt:
            stale[owner[key]].append(key)
        rebuild = set(stale) | set(unknown_folders)
        if not dry_run:
            if doomed or partial:
                store.delete(partial + doomed)
            for plan, gone in stale.items():
                state.record_deletes(identity, plan, gone)
            if marker_missing:
                write_marker(store)  # the index now says what the store holds
    return VerifyReport(
        checked=len(present),
        missing=tuple(sorted(missing)),
        unexpected=tuple(sorted(unexpected)),
        corrupt=tuple(corrupt),
        repaired=repair and not dry_run,
        plans_to_rebuild=tuple(sorted(rebuild)),
        partial=tuple(partial),
        linked=tuple(sorted(linked)),
        deleted=tuple(sorted(partial + doomed)) if repair else (),
        marker_missing=marker_missing,
        dry_run=dry_run,
    )


def _group(keys: Iterable[str]) -> dict[str | None, set[str]]:
    """Store keys by plan folder (its segment); None: not inside a plan's folder."""
    groups: dict[str | None, set[str]] = defaultdict(set)
    for key in keys:
        folder, slash, _ = key.removeprefix(PLANS).partition("/")
        groups[folder if slash and folder else None].add(key)
    return groups


def _examine(
    store: ObjectStore, present: Mapping[str, Published], concurrency: int
) -> tuple[list[str], dict[str, set[str]]]:
    """The corrupt keys among `present`, and the keys each present document links."""

    def check(key: str) -> tuple[bool, set[str]]:
        body = store.get(key)
        return not matches(body, present[key]), _outgoing(key, body)

    keys = sorted(present)
    if not keys:
        return [], {}
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(keys)))) as pool:
        results = list(pool.map(check, keys))
    corrupt = [key for key, (bad, _) in zip(keys, results, strict=True) if bad]
    return corrupt, {key: targets for key, (_, targets) in zip(keys, results, strict=True)}


def _reachable(store: ObjectStore, listed: list[str], links: Mapping[str, set[str]]) -> set[str]:
    """Every listed key that a current manifest (any manifest in the store: clients may hold
    it) reaches through links, the manifests included. Documents the index does not know
    are read here to follow their links."""
    exists = set(listed)
    todo = [key for key in listed if _is_manifest(key)]
    seen: set[str] = set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        targets = links[key] if key in links else _outgoing(key, store.get(key))
        todo += [target for target in targets & exists if target not in seen]
    return seen


def _outgoing(key: str, body: bytes | None) -> set[str]:
    """The keys the links in a document may name: relative references (SPEC §3), and the
    root-relative `prefix + key` links of stores published by 0.1.0, which may still be in
    the store (protecting too much is safe)."""
    try:
        document = orjson.loads(body) if body is not None else None
    except orjson.JSONDecodeError:
        return set()
    targets: set[str] = set()
    for reference in _links(document):
        target = resolve_link(key, reference)
        if target is not None:
            targets.add(target)
        path = urlsplit(reference).path
        if (at := path.find(PLANS)) >= 0 and (at == 0 or path[at - 1] == "/"):
            targets |= {path[at:], unquote(path[at:])}  # 0.1.0: `prefix + key`
    return targets


def _links(value: Any) -> Iterator[str]:
    """Every `url` and `…_url` string anywhere in a document."""
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, str) and (name == "url" or name.endswith("_url")):
                yield item
            else:
                yield from _links(item)
    elif isinstance(value, list):
        for item in value:
            yield from _links(item)


def _is_manifest(key: str) -> bool:
    parsed = parse_key(key)
    return parsed is not None and parsed.kind is DocKind.MANIFEST


def matches(body: bytes | None, entry: Published) -> bool:
    """Is `body` the document the index entry describes: its size (when known), version and
    `content_hash` agree? Key order does not matter."""
    found = Published.from_body(body)
    if found is None or (entry.size and found.size != entry.size):
        return False
    return (found.version, found.sha256) == (entry.version, entry.sha256)
