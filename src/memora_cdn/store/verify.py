"""`memora-cdn verify`: does the store hold exactly what the published index says?

Every plan the index knows and every plan folder found under `plans/` is compared key by key:

- **missing**: indexed, but not in the store;
- **unexpected**: in the store under `plans/`, but not indexed;
- **corrupt**: present, but not the document the index recorded. The check is exact: the body
  must be JSON of the indexed size whose `version` is the indexed version and whose content
  hash (the body without `version`/`generated_at`, re-serialised with `documents.dumps`, as
  `documents.finalize` computes it) is the indexed SHA-256. Since `generated_at` follows from
  `version`, passing all three means the bytes are the ones that were published.

With `repair`, unexpected keys are deleted from the store, and the index rows of missing and
corrupt keys are removed, so that the next build of their plan uploads them again: those
plans (and plans whose whole folder was unknown to the index) are returned in
`plans_to_rebuild`, for the caller to queue. A corrupt file stays where it is until that
build overwrites it (clients keep a file rather than a 404 meanwhile; a verify in between
lists it as unexpected). Run it while no build is writing: a build in
flight shows as differences that the build itself resolves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson

from memora_cdn.core.documents import Published, dumps, sha256_hex
from memora_cdn.core.paths import readable, segment
from memora_cdn.state.repo import StateStore
from memora_cdn.store.base import ObjectStore

PLANS = "plans/"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checked: int
    """Indexed keys whose body was read and compared."""
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    corrupt: tuple[str, ...]
    repaired: bool = False
    plans_to_rebuild: tuple[str, ...] = ()
    """With `repair`: the plans whose next build restores what was missing or corrupt."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.corrupt)


def verify(
    store: ObjectStore, state: StateStore, *, repair: bool, concurrency: int = 16
) -> VerifyReport:
    stored = _group(store.list_keys(PLANS))
    # Folders are matched to plans by segment: a long plan name is cut and hashed in its folder.
    indexed = {segment(p.plan_id): p.plan_id for p in state.publications()}
    unknown = {f: readable(f) for f in stored if f and f not in indexed}
    missing: list[str] = []
    unexpected: list[str] = list(stored.get(None, ()))
    present: dict[str, Published] = {}
    owner: dict[str, str] = {}
    unknown_folders: list[str] = []
    for folder, plan in sorted((indexed | unknown).items(), key=lambda item: item[1]):
        index = state.published(plan) if folder in indexed else {}
        keys = stored.get(folder, set())
        if keys and not index:
            unknown_folders.append(plan)
        missing += [key for key in index if key not in keys]
        unexpected += [key for key in keys if key not in index]
        for key, entry in index.items():
            owner[key] = plan
            if key in keys:
                present[key] = entry
    corrupt = _corrupt(store, present, concurrency)

    rebuild: set[str] = set()
    if repair:
        if unexpected:
            store.delete(unexpected)
        stale: dict[str, list[str]] = defaultdict(list)
        for key in missing + corrupt:
            stale[owner[key]].append(key)
        for plan, gone in stale.items():
            state.record_deletes(plan, gone)
        rebuild = set(stale) | set(unknown_folders)
    return VerifyReport(
        checked=len(present),
        missing=tuple(sorted(missing)),
        unexpected=tuple(sorted(unexpected)),
        corrupt=tuple(corrupt),
        repaired=repair,
        plans_to_rebuild=tuple(sorted(rebuild)),
    )


def _group(keys: Iterable[str]) -> dict[str | None, set[str]]:
    """Store keys by plan folder (its segment); None: not inside a plan's folder."""
    groups: dict[str | None, set[str]] = defaultdict(set)
    for key in keys:
        folder, slash, _ = key.removeprefix(PLANS).partition("/")
        groups[folder if slash and folder else None].add(key)
    return groups


def _corrupt(store: ObjectStore, present: Mapping[str, Published], concurrency: int) -> list[str]:
    def check(key: str) -> bool:
        return not matches(store.get(key), present[key])

    keys = sorted(present)
    if not keys:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(keys)))) as pool:
        return [key for key, bad in zip(keys, pool.map(check, keys), strict=True) if bad]


def matches(body: bytes | None, entry: Published) -> bool:
    """Is `body` the document the index entry describes (see the module doc)?"""
    if body is None or (entry.size and len(body) != entry.size):
        return False
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(document, dict) or document.pop("version", None) != entry.version:
        return False
    document.pop("generated_at", None)
    return sha256_hex(dumps(document)) == entry.sha256
