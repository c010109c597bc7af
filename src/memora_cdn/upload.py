"""Uploading a build's documents (SPEC §4 steps 1 and 4): children before parents, each kind
made durable and recorded in the published index before the next kind starts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from memora_cdn.core.documents import Document, Published
from memora_cdn.state.repo import StateRepository
from memora_cdn.store.base import JSON_CONTENT_TYPE, ObjectStore


@dataclass(frozen=True, slots=True)
class Uploads:
    """Puts documents in one store and records them in its published index."""

    store: ObjectStore
    state: StateRepository
    concurrency: int
    cache_control: Callable[[Document], str]
    """The `Cache-Control` of a document, as of the moment it is uploaded."""
    recorded_at: Callable[[], datetime]
    """The time the index records an upload at (naive UTC)."""

    def put(self, document: Document) -> None:
        """Store one document with its content type and cache lifetime."""
        self.store.put(
            document.key,
            document.body,
            content_type=JSON_CONTENT_TYPE,
            cache_control=self.cache_control(document),
        )

    def upload(self, plan: str, documents: Sequence[Document]) -> None:
        """Children before parents, one kind at a time. Each kind's uploads are made durable
        (`ObjectStore.sync`) and then recorded in one transaction before the next kind
        starts: a build killed mid-upload re-uploads at most the kind it was in, and the
        index never claims a file that a crash could lose (SPEC §4 step 4).

        After a failure, files already in flight finish and are recorded too; after an
        interrupt, those that landed before it are. Nothing of a later kind starts, and the
        first error is raised.
        """
        if not documents:
            return
        workers = max(1, min(self.concurrency, len(documents)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload") as pool:
            for _, group in groupby(documents, key=lambda d: d.kind.upload_rank):
                futures = {pool.submit(self.put, document): document for document in group}
                landed: list[Document] = []
                failure: BaseException | None = None
                try:
                    for future in as_completed(futures):
                        if future.cancelled():
                            continue
                        error = future.exception()
                        if error is None:
                            landed.append(futures[future])
                        elif failure is None:
                            failure = error
                            for pending in futures:
                                pending.cancel()
                finally:
                    # Also when interrupted (Ctrl-C, SIGTERM): nothing more of the level
                    # starts, and what landed is recorded.
                    for pending in futures:
                        pending.cancel()
                    self._record(plan, landed)
                if failure is not None:
                    raise failure

    def _record(self, plan: str, landed: Sequence[Document]) -> None:
        """Make these uploads durable, then note them in the published index as one batch."""
        if not landed:
            return
        self.store.sync()
        uploads = [
            (d.key, Published(d.content_hash, d.version, d.size, d.expires_at)) for d in landed
        ]
        self.state.record_uploads(self.store.identity, plan, uploads, self.recorded_at())
