"""Publishing a plan (SPEC §4): snapshot → access → render → validate → diff → upload.
The only module that sequences a build's I/O; its steps are pure (core) or adapters handed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from memora_cdn.contracts.document import check_body
from memora_cdn.contracts.schemas import schema_body, schemas_digest
from memora_cdn.core import paths
from memora_cdn.core.access import is_path_segment, resolve
from memora_cdn.core.catalogue import render_plans
from memora_cdn.core.documents import Document, Published, body_version
from memora_cdn.core.links import key_url
from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.core.paths import DocKind
from memora_cdn.core.render import RenderOptions, render_plan
from memora_cdn.errors import InvalidDocumentsError, MemoraCdnError, PurgeError
from memora_cdn.media.windows import max_age_for
from memora_cdn.purge.base import NoPurger, Purger, PurgeReport
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateRepository
from memora_cdn.state.sync_log import SyncCounts
from memora_cdn.store.base import JSON_CONTENT_TYPE, ObjectStore
from memora_cdn.store.marker import ensure_marker
from memora_cdn.upload import Uploads

Clock = Callable[[], float]
"""Unix seconds now: `time.time`, or a test's clock."""
_PLANS_REWRITES = 3
"""How many times a build writes plans.json at most, when other builds change it meanwhile."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What one build of a plan did."""

    plan: str
    removed: bool
    """The plan is missing or unpublished: its folder was deleted."""
    counts: SyncCounts
    files: int = 0
    bytes_total: int = 0
    lessons: int = 0
    warnings: tuple[str, ...] = ()
    uploaded_keys: tuple[str, ...] = ()
    deleted_keys: tuple[str, ...] = ()
    store_keys: tuple[str, ...] = ()
    """Store-wide files uploaded with this publish (`plans.json`, schemas), not counted."""
    log_id: int = 0
    purge_error: PurgeError | None = None
    """Some URLs were not purged: `publish` logs the build Failed, and raises this."""


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """How documents are rendered, uploaded and cached."""

    render: RenderOptions
    upload_concurrency: int
    manifest_cache_seconds: int
    document_cache_seconds: int
    store_prefix: str = ""
    """The prefix the store puts before every key: part of each purged URL (links, being
    relative, never carry it)."""
    signed_url_margin_seconds: int = 900
    """A lesson with signed URLs is never cached past their expiry minus this margin."""

    def cache_control(self, document: Document, now: int) -> str:
        """The `Cache-Control` of a document uploaded at `now` (signed lessons: shorter)."""
        manifest = document.kind in (DocKind.MANIFEST, DocKind.PLANS)
        seconds = self.manifest_cache_seconds if manifest else self.document_cache_seconds
        margin = self.signed_url_margin_seconds
        return f"public, max-age={max_age_for(document.expires_at, now, seconds, margin)}"


class Publisher:
    """Builds plans and brings the store, the index and the CDN in line with them."""

    def __init__(
        self,
        source: SqlSource,
        state: StateRepository,
        store: ObjectStore,
        options: PublishOptions,
        clock: Clock = time.time,
        purger: Purger | None = None,
    ) -> None:
        self.purger = purger or NoPurger()
        self.source = source
        self.state = state
        self.store = store
        self.options = options
        self.clock = clock
        self._schemas_checked = False

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    def publish(
        self,
        plan: str,
        *,
        triggered_by: Trigger = Trigger.MANUAL,
        retry_count: int = 0,
        log_id: int | None = None,
    ) -> PublishResult:
        """Build one plan and bring the store in line with it, logging the run; raises the
        build's `MemoraCdnError` after logging it as Failed."""
        if log_id is None:
            log_id = self.state.log_processing(
                plan, triggered_by, self._now(), retry_count=retry_count
            )
        try:
            result = self._publish(plan)
        except MemoraCdnError as error:
            self.state.log_finish(log_id, SyncStatus.FAILED, self._now(), error=str(error))
            raise
        except Exception as error:
            self.state.log_finish(
                log_id, SyncStatus.FAILED, self._now(), error=f"{type(error).__name__}: {error}"
            )
            raise
        failed = result.purge_error  # the files landed, so the Failed row counts them
        status = SyncStatus.SUCCESS if failed is None else SyncStatus.FAILED
        message = None if failed is None else str(failed)
        self.state.log_finish(log_id, status, self._now(), result.counts, result.warnings, message)
        if failed is not None:
            raise failed
        return replace(result, log_id=log_id)

    def _publish(self, plan: str) -> PublishResult:
        if not is_path_segment(plan):
            # No key can hold it (SPEC §2): nothing to build, and nothing of it to remove.
            warnings = (unusable_plan_warning(plan),)
            return PublishResult(plan=plan, removed=False, counts=SyncCounts(), warnings=warnings)
        self._clear_partials(plan)
        snapshot = self.source.load(plan, self.state.members(plan))
        if snapshot is None or not snapshot.plan.is_published:
            return self._remove(plan, snapshot.warnings if snapshot else ())
        store = self._trusted_store()
        previous = self.state.published(store, plan)
        resolved = resolve(snapshot)
        rendering = render_plan(resolved, previous, int(self.clock()), self.options.render)
        digest = schemas_digest()
        validated = previous if self.state.validated_digest(store, plan) == digest else {}
        self._validate(plan, rendering.documents, validated)

        changed = [d for d in rendering.documents if _changed(d, previous.get(d.key))]
        rendered_keys = {d.key for d in rendering.documents}
        stale = sorted(key for key in previous if key not in rendered_keys)
        self._uploads.upload(plan, changed)
        if stale:
            self.store.delete(stale)
            self.state.record_deletes(store, plan, stale)
        self.state.record_validated(store, plan, digest, self._now())
        self.state.replace_members(plan, rendering.members)
        written = self._store_files(plan)
        changed_files = [(d.key, d.body) for d in changed] + written
        purged, purge_error = self._purge(plan, self._purge_urls(changed_files, stale))
        counts = SyncCounts(
            files_uploaded=len(changed),
            files_deleted=len(stale),
            files_unchanged=len(rendering.documents) - len(changed),
            bytes_uploaded=sum(d.size for d in changed),
            purge_requests=purged.requests,
            purge_failures=purged.failures,
        )
        return PublishResult(
            plan=plan,
            removed=False,
            counts=counts,
            files=len(rendering.documents),
            bytes_total=sum(d.size for d in rendering.documents),
            lessons=rendering.lessons,
            warnings=rendering.warnings,
            uploaded_keys=tuple(d.key for d in changed),
            deleted_keys=tuple(stale),
            store_keys=tuple(key for key, _ in written),
            purge_error=purge_error,
        )

    def _remove(self, plan: str, warnings: tuple[str, ...] = ()) -> PublishResult:
        store = self._trusted_store()
        previous = self.state.published(store, plan)
        # The plan is not published in the source, so plans.json stops linking its manifest
        # before the manifest goes.
        written = self._store_files(plan)
        deleted = self.store.delete_prefix(paths.plan_prefix(plan))
        self.state.forget_plan(store, plan)
        keys = tuple(sorted(previous))
        purged, purge_error = self._purge(plan, self._purge_urls(written, keys))
        return PublishResult(
            plan=plan,
            removed=True,
            counts=SyncCounts(
                files_deleted=max(deleted, len(keys)),
                purge_requests=purged.requests,
                purge_failures=purged.failures,
            ),
            deleted_keys=keys,
            store_keys=tuple(key for key, _ in written),
            warnings=warnings,
            purge_error=purge_error,
        )

    def _trusted_store(self) -> str:
        """The store's identity, once its marker shows that the index still says what it
        holds (`StoreWipedError` otherwise: nothing may be written to it before a repair)."""
        store = self.store.identity
        ensure_marker(self.store, lambda: self.state.indexed_files(store))
        return store

    def _store_files(self, plan: str) -> list[tuple[str, bytes]]:
        """Bring the store-wide files in line, after the plan's manifest: the JSON Schemas
        under `schemas/v1/` and `plans.json`, each uploaded only when the store does not
        already hold its content. Returns (key, body) of each upload.

        Builds of other plans may write `plans.json` at the same time, each from the index as
        it saw it: after a write the list is read again, and written again if another plan's
        manifest landed meanwhile, so the last writer does not leave that plan out.
        """
        written = self._schemas()
        previous = Published.from_body(self.store.get(paths.PLANS_KEY))
        latest: Document | None = None
        for _ in range(_PLANS_REWRITES):
            listing = self._plans_listing(plan, previous)
            if not _changed(listing, previous):
                break
            self._uploads.put(listing)
            latest = listing
            previous = Published(listing.content_hash, listing.version, listing.size)
        if latest is not None:
            written.append((latest.key, latest.body))
        if written:
            self.store.sync()  # durable before their URLs are purged
        return written

    def _schemas(self) -> list[tuple[str, bytes]]:
        """Put the JSON Schemas the store lacks or holds in another version. Their bodies are
        compared once per publisher (another version of memora-cdn runs in a new process);
        after that one listing finds those missing, as after the store was emptied."""
        if self._schemas_checked:
            present = set(self.store.list_keys(paths.SCHEMAS_PREFIX))
            wanted = [kind for kind in DocKind if paths.schema_key(kind) not in present]
        else:
            wanted = [
                kind
                for kind in DocKind
                if self.store.get(paths.schema_key(kind)) != schema_body(kind)
            ]
        written: list[tuple[str, bytes]] = []
        for kind in wanted:
            key, body = paths.schema_key(kind), schema_body(kind)
            self.store.put(
                key,
                body,
                content_type=JSON_CONTENT_TYPE,
                cache_control=f"public, max-age={self.options.manifest_cache_seconds}",
            )
            written.append((key, body))
        self._schemas_checked = True
        return written

    def _plans_listing(self, plan: str, previous: Published | None) -> Document:
        """`plans.json` as of now: the plans published in the source whose manifest the index
        holds; `previous` (the copy in the store) gives the version of unchanged content."""
        published = [listed for listed in self.source.plans() if listed.is_published]
        manifests = {paths.manifest_key(listed.name): listed.name for listed in published}
        held = {
            owner
            for owner, key in self.state.holders(self.store.identity, manifests)
            if manifests[key] == owner
        }
        document = render_plans(
            [listed for listed in published if listed.name in held], previous, int(self.clock())
        )
        self._validate(plan, [document])
        return document

    def _clear_partials(self, plan: str) -> None:
        """Remove what a killed build of this plan left half-written (under its lock, no
        other build of the plan is writing)."""
        leftovers = self.store.partials(paths.plan_prefix(plan))
        if leftovers:
            self.store.delete(leftovers)

    def _purge_urls(
        self, changed: Sequence[tuple[str, bytes]], deleted: Sequence[str]
    ) -> list[str]:
        """The URLs of changed and deleted files (keys in URL form, with the store prefix),
        and each changed file's new versioned URL, `?v=` as its links carry it: a client
        holding an old parent may have asked for that version before it existed, and the
        edge would then keep the old body under it (SPEC §4)."""
        prefix = self.options.store_prefix
        urls = [key_url(prefix + key) for key in deleted]
        for key, body in changed:
            url = key_url(prefix + key)
            urls += [url, f"{url}?v={body_version(body)}"]
        return urls

    def _purge(self, plan: str, urls: Sequence[str]) -> tuple[PurgeReport, PurgeError | None]:
        """Purge the CDN for these URLs and any whose purge failed before. URLs that still
        fail are kept for the next build of the plan (which uploads nothing new for them),
        and the error returned with what the purge did."""
        pending = self.state.pending_purges(plan)
        wanted = sorted(set(urls) | set(pending))
        if not wanted:
            return PurgeReport(), None
        # Kept as pending before the call: a build interrupted or killed mid-purge (whose
        # files are already in the index) purges them on its next build.
        self.state.add_pending_purges(plan, set(wanted) - set(pending), self._now())
        try:
            report = self.purger.purge(wanted)
        except PurgeError as error:
            self.state.clear_pending_purges(plan, set(wanted) - set(error.keys))
            return error.report, error
        self.state.clear_pending_purges(plan)  # all purged (no other build adds any: the lock)
        return report, None

    def _validate(
        self,
        plan: str,
        documents: Sequence[Document],
        validated: Mapping[str, Published] | None = None,
    ) -> None:
        """Check the bytes to be uploaded, parsed back, so that nothing the encoder changed
        (a NaN written as null) reaches the store. A document whose bytes the index holds in
        `validated` (checked against the current schemas when it was published) is not
        parsed again."""
        problems: list[str] = []
        limit = self.options.render.shard_max_bytes
        validated = validated or {}
        for document in documents:
            if _changed(document, validated.get(document.key)):
                found = check_body(document.kind, document.body, document.key)[1]
                problems += [str(p) for p in found]
            if document.kind is DocKind.SEARCH_SHARD and document.size > limit:
                problems.append(
                    f"{document.key}: $: {document.size} bytes, over shard_max_bytes={limit}"
                )
        if problems:
            raise InvalidDocumentsError(plan, problems)

    @property
    def _uploads(self) -> Uploads:
        """Uploads to the store as it is now (a test may swap `store` between builds)."""
        return Uploads(
            self.store,
            self.state,
            self.options.upload_concurrency,
            lambda document: self.options.cache_control(document, int(self.clock())),
            self._now,
        )


def unusable_plan_warning(plan: str) -> str:
    """Why a plan whose name cannot be a path segment (SPEC §2) is skipped."""
    return f"Memora Academic Plan {plan!r}: name cannot be a path segment; skipped"


def _changed(document: Document, published: Published | None) -> bool:
    """Does the store lack this document's content or version?"""
    return (
        published is None
        or published.sha256 != document.content_hash
        or (published.version != document.version)
    )
