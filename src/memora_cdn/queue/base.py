"""The queue contract (SPEC §5) every backend keeps: SQL (`cdn_export_queue`) and Redis.

Design notes: docs/decisions/queue.md
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol


class QueueState(StrEnum):
    """Where a plan is in the queue."""

    PENDING = "pending"
    PROCESSING = "processing"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Claim:
    """A plan a worker holds: only the holder of `token` can complete, fail or renew it."""

    plan: str
    token: str
    """Opaque: only the backend that issued it reads it."""
    attempts: int
    """Failed builds so far (0 on a first attempt): the sync log's `retry_count`."""
    backend: str
    """The `name` of the queue backend (`sql` or `redis`) that holds the claim: only that
    backend can renew, complete, fail or release it."""
    is_fallback: bool = False
    """The plan came through the SQL fallback while Redis was down (the sync log says so)."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """How many plans are in each state."""

    pending: int = 0
    processing: int = 0
    retrying: int = 0
    dead_letter: int = 0
    fallback_pending: int = 0
    """Of `pending`, the plans waiting in the SQL fallback for Redis to come back."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A plan that failed `max_retries` times, with its last error."""

    plan: str
    attempts: int
    last_error: str | None
    failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Failure:
    """What became of a failed build: retried at `retry_at`, or dead-lettered."""

    attempts: int
    retry_at: datetime | None

    @property
    def dead(self) -> bool:
        """Failed `max_retries` times: no retry is scheduled."""
        return self.retry_at is None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed builds are retried: `max_retries` times, waiting base × 2^(n−1)."""

    max_retries: int
    base_seconds: float

    def delay(self, failures: int) -> timedelta:
        """Wait before retry number `failures` (1-based): base × 2^(n−1)."""
        return timedelta(seconds=self.base_seconds * 2 ** (failures - 1))

    def after(self, attempts: int, now: datetime) -> Failure:
        """The failure of a build that had failed `attempts` times before: retried after
        its delay, or dead once it has failed more than `max_retries` times."""
        failures = attempts + 1
        if failures > self.max_retries:
            return Failure(failures, None)
        return Failure(failures, now + self.delay(failures))


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one `maintain` did to the queue."""

    recovered: tuple[str, ...] = ()
    """Plans drained from the SQL fallback into Redis, now queued there for a build."""
    quarantined: tuple[str, ...] = ()
    """Corrupt entries no worker could take, moved to the dead letter."""


class PlanQueue(Protocol):
    """Plans waiting for, under and failed in builds; times are naive UTC, passed in."""

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

    def maintain(self, now: datetime) -> Maintenance:
        """Upkeep before each batch or tick: dead-letter corrupt entries, and drain what a
        fallback holds back into the primary once it answers."""
        ...

    def stats(self, now: datetime) -> QueueStats:
        """How many plans are in each state."""
        ...

    def pending_count(self) -> int:
        """Plans waiting for a batch (what the threshold counts)."""
        ...

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead-lettered plan, oldest failure first."""
        ...

    def retry_dead(self, plan: str, now: datetime) -> bool:
        """Move a dead-lettered plan back to pending with a fresh retry budget."""
        ...

    def clear_dead(self, plan: str | None = None) -> int:
        """Forget one dead-lettered plan, or all of them; returns how many."""
        ...
