"""The per-plan build lock: held by a claim's token while its plan is built (Redis)."""

from __future__ import annotations

from typing import Protocol


class PlanLock(Protocol):
    """A lock per plan that only the token that took it can extend or release."""

    def lock(self, plan: str, token: str, ttl_ms: int) -> bool:
        """Take the plan's lock for `ttl_ms` unless someone holds it."""
        ...

    def renew_lock(self, plan: str, token: str, ttl_ms: int) -> bool:
        """Extend the lock; False when `token` does not hold it."""
        ...

    def unlock(self, plan: str, token: str) -> bool:
        """Release the lock if `token` holds it."""
        ...
