"""The purger protocol: after a plan's uploads and deletes, the CDN forgets those URLs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge did, for the sync log."""

    urls: int = 0
    """URLs purged."""
    requests: int = 0
    """API calls made (the sync log's `purge_requests`)."""
    failures: int = 0
    """Calls that failed for good (after retries)."""


class Purger(Protocol):
    """Tells the CDN in front of the store to forget URLs (none, Cloudflare)."""

    def purge(self, keys: Sequence[str]) -> PurgeReport:
        """Purge the CDN URLs of these paths: store keys in URL form (`links.key_url`, store
        prefix included), a changed file's new versioned one with its `?v=`.

        Raises `PurgeError` (memora_cdn.errors) when some URLs could not be purged after
        retries; the error carries the keys that are still cached.
        """
        ...


class NoPurger:
    """The embedded default: a folder has no CDN in front of it."""

    def purge(self, keys: Sequence[str]) -> PurgeReport:
        """Nothing to purge: an empty report."""
        return PurgeReport()
