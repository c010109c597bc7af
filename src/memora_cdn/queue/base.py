"""The queue contract (SPEC §5) both backends keep: SQL (`cdn_export_queue`) and Redis.

A plan is in at most one state at a time: pending (waiting for a batch), processing (claimed
by a worker under a lease), retry (failed, due again later) or dead (failed `max_retries`
times; kept until an operator retries or clears it). A plan queued again while it is being
built is marked dirty and goes back to pending when that build completes: no change is lost.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol


class QueueState(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Claim:
    """A plan a worker holds: only the holder of `token` can complete, fail or renew it."""

    plan: str
    token: str
    attempts: int
    """Failed builds so far (0 on a first attempt): the sync log's `retry_count`."""
    is_fallback: bool = False


@dataclass(frozen=True, slots=True)
class QueueStats:
    pending: int = 0
    processing: int = 0
    retrying: int = 0
    dead_letter: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    plan: str
    attempts: int
    last_error: str | None
    failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    base_seconds: float = 30.0

    def delay(self, failures: int) -> timedelta:
        """Wait before retry number `failures` (1-based): base × 2^(n−1)."""
        return timedelta(seconds=self.base_seconds * 2 ** (failures - 1))


@dataclass(frozen=True, slots=True)
class Failure:
    """What became of a failed build: retried at `retry_at`, or dead-lettered."""

    attempts: int
    retry_at: datetime | None

    @property
    def dead(self) -> bool:
        return self.retry_at is None


class PlanQueue(Protocol):
    """Times are naive UTC datetimes passed in by the caller (the clock is injected)."""

    name: str
    """`sql` or `redis`, for status and the dashboard."""

    def enqueue(self, plans: Iterable[str], now: datetime) -> list[str]:
        """Queue plans (deduplicated); returns those newly scheduled (new, or dirty now)."""
        ...

    def claim(
        self,
        worker: str,
        now: datetime,
        *,
        lease_seconds: float,
        limit: int = 1,
        include_pending: bool = True,
        plans: Collection[str] | None = None,
    ) -> list[Claim]:
        """Take up to `limit` due plans (pending, due retries, expired leases) atomically.

        With `include_pending=False` only due retries and expired leases are taken; with
        `plans`, only those plans.
        """
        ...

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> bool:
        """Extend the lease; False when the claim was lost (expired and taken over)."""
        ...

    def complete(self, claim: Claim, now: datetime) -> None:
        """The build succeeded: forget the plan, unless it was queued again meanwhile."""
        ...

    def fail(self, claim: Claim, error: str, now: datetime, policy: RetryPolicy) -> Failure:
        """The build failed: schedule a retry, or dead-letter after `max_retries` retries."""
        ...

    def release(self, claim: Claim, now: datetime) -> None:
        """Put a claimed plan back as pending without counting a failure (never dropped)."""
        ...

    def stats(self, now: datetime) -> QueueStats: ...

    def pending_count(self) -> int: ...

    def dead_letters(self) -> list[DeadLetter]: ...

    def retry_dead(self, plan: str, now: datetime) -> bool:
        """Move a dead-lettered plan back to pending with a fresh retry budget."""
        ...

    def clear_dead(self, plan: str | None = None) -> int:
        """Forget one dead-lettered plan, or all of them; returns how many."""
        ...
