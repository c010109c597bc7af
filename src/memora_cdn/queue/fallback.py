"""Redis with the SQL queue as its fallback (SPEC §5): no event is lost while Redis is down.

Design notes: docs/decisions/queue-fallback.md
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from memora_cdn.queue.base import (
    Claim,
    DeadLetter,
    Failure,
    Maintenance,
    QueueState,
    QueueStats,
    RetryPolicy,
)
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.sql import QueueRow, SqlQueue

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""What "Redis is unreachable" means (redis-py's, not the builtins)."""
RECOVERY_LEASE = timedelta(seconds=300)
"""How long recovery holds a SQL row it is moving (only a crash mid-move makes it matter)."""
NAME = "redis"
DEGRADED_NAME = "redis (fallback: sql)"

T = TypeVar("T")


class _Unreachable:
    """The result of a Redis call that could not reach Redis."""


_UNREACHABLE = _Unreachable()


class FallbackQueue:
    """The Redis queue, with the SQL queue taking over while Redis does not answer."""

    name: str

    def __init__(self, primary: RedisQueue, fallback: SqlQueue) -> None:
        if not fallback.fallback:
            raise ValueError("the fallback of a FallbackQueue is SqlQueue(engine, fallback=True)")
        self.primary = primary
        self.fallback = fallback
        self.name = NAME

    @property
    def degraded(self) -> bool:
        """The last call to Redis failed to reach it."""
        return self.name == DEGRADED_NAME

    def _redis(self, action: Callable[[], T]) -> T | _Unreachable:
        try:
            result = action()
        except REDIS_DOWN as error:
            self._went_down(error)
            return _UNREACHABLE
        self._came_back()
        return result

    def _went_down(self, error: Exception) -> None:
        if not self.degraded:
            log.warning("Redis is unreachable (%s); using the SQL queue", error)
        self.name = DEGRADED_NAME

    def _came_back(self) -> None:
        if self.degraded:
            log.warning("Redis answers again; the SQL queue's plans move back on recovery")
        self.name = NAME

    # -- scheduling -----------------------------------------------------------------------

    def enqueue(self, plans: Iterable[str], now: datetime) -> list[str]:
        unique = list(dict.fromkeys(plans))
        scheduled = self._redis(lambda: self.primary.enqueue(unique, now))
        if isinstance(scheduled, _Unreachable):
            return self.fallback.enqueue(unique, now)
        return scheduled

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
        options: dict[str, Any] = {
            "lease_seconds": lease_seconds,
            "limit": limit,
            "include_pending": include_pending,
            "plans": plans,
        }
        claims = self._redis(lambda: self.primary.claim(worker, now, **options))
        if not isinstance(claims, _Unreachable):
            return claims
        return [replace(c, is_fallback=True) for c in self.fallback.claim(worker, now, **options)]

    def _in_sql(self, claim: Claim) -> bool:
        """The claim was taken from the SQL queue (so only it can act on it)."""
        return claim.backend == self.fallback.name

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> bool:
        if self._in_sql(claim):
            return self.fallback.renew(claim, now, lease_seconds)
        renewed = self._redis(lambda: self.primary.renew(claim, now, lease_seconds))
        if isinstance(renewed, _Unreachable):
            raise RedisConnectionError(
                f"cannot renew the lease on plan {claim.plan!r}: Redis is down"
            )
        return renewed

    def complete(self, claim: Claim, now: datetime) -> None:
        if self._in_sql(claim):
            self.fallback.complete(claim, now)
        elif isinstance(self._redis(lambda: self.primary.complete(claim, now)), _Unreachable):
            log.warning(
                "could not record the build of plan %r in Redis; "
                "it is built again when its lease runs out",
                claim.plan,
            )

    def release(self, claim: Claim, now: datetime) -> None:
        if self._in_sql(claim):
            self.fallback.release(claim, now)
        elif isinstance(self._redis(lambda: self.primary.release(claim, now)), _Unreachable):
            self.fallback.enqueue([claim.plan], now)

    def fail(self, claim: Claim, error: str, now: datetime, policy: RetryPolicy) -> Failure:
        if self._in_sql(claim):
            return self.fallback.fail(claim, error, now, policy)
        failure = self._redis(lambda: self.primary.fail(claim, error, now, policy))
        if isinstance(failure, _Unreachable):
            failure = policy.after(claim.attempts, now)
            self.fallback.park_failure(claim.plan, failure, error, now)
        return failure

    # -- recovery -------------------------------------------------------------------------

    def maintain(self, now: datetime) -> Maintenance:
        quarantined = self.fallback.maintain(now).quarantined
        return Maintenance(recovered=tuple(self.recover(now)), quarantined=quarantined)

    def recover(self, now: datetime) -> list[str]:
        """Drain the SQL rows into Redis, if it answers; returns the plans now queued there
        for a build (in due order). Dead letters move too, and are not returned."""
        if isinstance(self._redis(self.primary.ping), _Unreachable):
            return []
        moved: list[str] = []
        for row in self.fallback.rows():
            try:
                if self._drain(row, now):
                    moved.append(row.plan)
            except REDIS_DOWN as error:
                self._went_down(error)
                break
        if moved:
            log.info("moved %d plan(s) from the SQL fallback into Redis", len(moved))
        return moved

    def _drain(self, row: QueueRow, now: datetime) -> bool:
        """Move one SQL row into Redis; True when it is now queued there for a build."""
        if row.state == QueueState.DEAD.value:
            self.primary.adopt(row.plan, "dead", now, dead=row.dead_letter())
            self.fallback.forget_dead(row.plan)
            return False
        moving = self.fallback.hold_for_move(row, now, RECOVERY_LEASE)
        if moving is None:
            return False
        try:
            self.primary.adopt(moving.plan, moving.state, moving.due, attempts=moving.attempts)
        except REDIS_DOWN:
            self.fallback.cancel_move(moving)
            raise
        if self.fallback.end_move(moving):  # queued in SQL again while it moved
            self.primary.enqueue([moving.plan], now, fallback=True)
        return True

    # -- inspection and operator actions ---------------------------------------------------

    def stats(self, now: datetime) -> QueueStats:
        sql = replace(self.fallback.stats(now), fallback_pending=self.fallback.pending_count())
        red = self._redis(lambda: self.primary.stats(now))
        if isinstance(red, _Unreachable):
            return sql
        return QueueStats(
            pending=red.pending + sql.pending,
            processing=red.processing + sql.processing,
            retrying=red.retrying + sql.retrying,
            dead_letter=red.dead_letter + sql.dead_letter,
            fallback_pending=sql.fallback_pending,
        )

    def pending_count(self) -> int:
        red = self._redis(self.primary.pending_count)
        sql = self.fallback.pending_count()
        return sql if isinstance(red, _Unreachable) else red + sql

    def fallback_pending(self) -> int:
        """Rows waiting in the SQL fallback to move to Redis (any state)."""
        return self.fallback.size()

    def dead_letters(self) -> list[DeadLetter]:
        red = self._redis(self.primary.dead_letters)
        letters = self.fallback.dead_letters()
        if not isinstance(red, _Unreachable):
            letters += red
        return sorted(letters, key=lambda d: (d.failed_at or datetime.min, d.plan))

    def retry_dead(self, plan: str, now: datetime) -> bool:
        if self.fallback.retry_dead(plan, now):
            return True
        moved = self._redis(lambda: self.primary.retry_dead(plan, now))
        return moved is True

    def clear_dead(self, plan: str | None = None) -> int:
        cleared = self.fallback.clear_dead(plan)
        red = self._redis(lambda: self.primary.clear_dead(plan))
        return cleared if isinstance(red, _Unreachable) else cleared + red
