"""Redis with the SQL queue as its fallback (SPEC §5): no event is lost while Redis is down.

Every operation goes to Redis first. When Redis does not answer (a connection error or a
timeout; give the client short socket timeouts and few retries so that is quick):

- `enqueue` writes to the SQL queue (`cdn_export_queue`, rows marked `is_fallback`);
- `claim` takes due plans from the SQL queue, so work goes on; those claims carry
  `is_fallback=True` and a token starting with `sql:`, which routes their `renew`,
  `complete`, `fail` and `release` back to SQL, whoever calls them and whenever;
- `stats`, `pending_count` and `dead_letters` always add the SQL rows;
  the operator actions act on what can be reached (and so on what `dead_letters` shows).

Once Redis answers again, `recover` drains the SQL rows into it: pending rows, retries
(keeping their due time and failure count), dead letters, and claims whose lease ran out.
A SQL claim whose lease is live is left alone: its `complete` deletes the row (or, queued
again meanwhile, makes it pending), its `fail` makes it a retry, or its lease runs out, and
the next `recover` drains what is left. The caller runs `recover` before each batch (while
Redis is up, `claim` takes only from Redis, so a plan is never held on both sides at once)
and logs the plans it returns with `triggered_by = "Fallback Recovery"`.

Edge cases, all resolved towards building a plan once more rather than never:
- A Redis call that times out after Redis ran it: the plans are queued on both sides;
  draining merges them (Redis deduplicates).
- A plan drained while Redis holds it already: pending, retrying or dead in Redis stays so (as
  `enqueue` would); building in Redis is marked dirty, so it is built again afterwards.
- A Redis claim whose `complete` cannot reach Redis: the claim stays in Redis and the plan is
  built again when its lease runs out. Its `release` or `fail` parks the plan in SQL (pending,
  or retry/dead with its failure count) unless SQL already has it queued. `renew` raises: the
  lease cannot be extended, and the caller's heartbeat tries again.
- Recovery takes each SQL row first (a conditional UPDATE, as a claim would), then writes
  it to Redis, then deletes it: a crash in between leaves the row to be drained again later
  (Redis deduplicates); two recovering workers never drain one row twice.
- A plan queued in Redis while a SQL claim on it is still building may be claimed from Redis
  meanwhile: the per-plan build lock keeps the two builds apart.
- Redis restarted without persistence has lost what it held before the outage: run it with
  AOF (`appendonly yes`) for the queue to survive a restart.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from memora_cdn.queue.base import (
    Claim,
    DeadLetter,
    Failure,
    QueueState,
    QueueStats,
    RetryPolicy,
)
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.state.schema import export_queue as q

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
"""What "Redis is unreachable" means (redis-py's, not the builtins)."""
SQL_TOKEN_PREFIX = "sql:"
RECOVERY_LEASE = timedelta(seconds=300)
"""How long recovery holds a SQL row it is moving (only a crash mid-move makes it matter)."""
NAME = "redis"
DEGRADED_NAME = "redis (fallback: sql)"

T = TypeVar("T")


class _Unreachable:
    """The result of a Redis call that could not reach Redis."""


_UNREACHABLE = _Unreachable()


class FallbackQueue:
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
        taken = self.fallback.claim(worker, now, **options)
        return [replace(c, token=SQL_TOKEN_PREFIX + c.token, is_fallback=True) for c in taken]

    @staticmethod
    def _sql_side(claim: Claim) -> Claim | None:
        """The SQL queue's own claim, for a claim taken from it; None for a Redis claim."""
        if not claim.token.startswith(SQL_TOKEN_PREFIX):
            return None
        return replace(claim, token=claim.token.removeprefix(SQL_TOKEN_PREFIX))

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> bool:
        if (inner := self._sql_side(claim)) is not None:
            return self.fallback.renew(inner, now, lease_seconds)
        renewed = self._redis(lambda: self.primary.renew(claim, now, lease_seconds))
        if isinstance(renewed, _Unreachable):
            raise RedisConnectionError(
                f"cannot renew the lease on plan {claim.plan!r}: Redis is down"
            )
        return renewed

    def complete(self, claim: Claim, now: datetime) -> None:
        if (inner := self._sql_side(claim)) is not None:
            self.fallback.complete(inner, now)
        elif isinstance(self._redis(lambda: self.primary.complete(claim, now)), _Unreachable):
            log.warning(
                "could not record the build of plan %r in Redis; "
                "it is built again when its lease runs out",
                claim.plan,
            )

    def release(self, claim: Claim, now: datetime) -> None:
        if (inner := self._sql_side(claim)) is not None:
            self.fallback.release(inner, now)
        elif isinstance(self._redis(lambda: self.primary.release(claim, now)), _Unreachable):
            self.fallback.enqueue([claim.plan], now)

    def fail(self, claim: Claim, error: str, now: datetime, policy: RetryPolicy) -> Failure:
        if (inner := self._sql_side(claim)) is not None:
            return self.fallback.fail(inner, error, now, policy)
        failure = self._redis(lambda: self.primary.fail(claim, error, now, policy))
        if isinstance(failure, _Unreachable):
            return self._park_failure(claim, error, now, policy)
        return failure

    def _park_failure(
        self, claim: Claim, error: str, now: datetime, policy: RetryPolicy
    ) -> Failure:
        """Record a Redis claim's failure in SQL while Redis is down."""
        failures = claim.attempts + 1
        dead = failures > policy.max_retries
        retry_at = None if dead else now + policy.delay(failures)
        row = {
            "plan_id": claim.plan,
            "state": (QueueState.DEAD if dead else QueueState.RETRY).value,
            "enqueued_at": now,
            "due_at": retry_at or now,
            "attempts": failures,
            "dirty": False,
            "is_fallback": True,
            "last_error": error,
            "failed_at": now,
        }
        try:
            with self.fallback.engine.begin() as conn:
                conn.execute(insert(q).values(**row))
        except IntegrityError:
            pass  # already queued in SQL: that entry builds it again
        return Failure(failures, retry_at)

    # -- recovery -------------------------------------------------------------------------

    def recover(self, now: datetime) -> list[str]:
        """Drain the SQL rows into Redis, if it answers; returns the plans now queued there
        for a build (in due order). Dead letters move too, and are not returned."""
        if isinstance(self._redis(self.primary.ping), _Unreachable):
            return []
        query = select(
            q.c.plan_id,
            q.c.state,
            q.c.due_at,
            q.c.attempts,
            q.c.token,
            q.c.lease_until,
            q.c.last_error,
            q.c.failed_at,
        ).order_by(q.c.due_at, q.c.plan_id)
        with self.fallback.engine.connect() as conn:
            rows: list[Any] = list(conn.execute(query).all())
        moved: list[str] = []
        for row in rows:
            try:
                if self._drain(row, now):
                    moved.append(str(row.plan_id))
            except REDIS_DOWN as error:
                self._went_down(error)
                break
        if moved:
            log.info("moved %d plan(s) from the SQL fallback into Redis", len(moved))
        return moved

    def _drain(self, row: Any, now: datetime) -> bool:
        plan, state = str(row.plan_id), str(row.state)
        engine = self.fallback.engine
        if state == QueueState.DEAD.value:
            letter = DeadLetter(plan, int(row.attempts), row.last_error, row.failed_at)
            self.primary.adopt(plan, "dead", now, dead=letter)
            with engine.begin() as conn:
                conn.execute(
                    delete(q).where(q.c.plan_id == plan, q.c.state == QueueState.DEAD.value)
                )
            return False
        expected = [q.c.plan_id == plan, q.c.state == state]
        if state == QueueState.PROCESSING.value:
            if row.lease_until is None or row.lease_until >= now:
                return False  # a live claim: drained when it completes, fails or expires
            expected += [q.c.token == row.token, q.c.lease_until < now]
            target, due = "pending", now
        elif state in (QueueState.PENDING.value, QueueState.RETRY.value):
            target, due = state, row.due_at
        else:
            return False  # a corrupt row: `quarantine_corrupt` dead-letters it
        token = f"recovery-{secrets.token_hex(12)}"
        with engine.begin() as conn:
            taken = conn.execute(
                update(q)
                .where(*expected)
                .values(
                    state=QueueState.PROCESSING.value,
                    token=token,
                    claimed_by="fallback-recovery",
                    lease_until=now + RECOVERY_LEASE,
                    dirty=False,
                )
            )
        if taken.rowcount != 1:
            return False  # claimed or drained by someone else meanwhile
        mine = [q.c.plan_id == plan, q.c.token == token]
        try:
            self.primary.adopt(plan, target, due, attempts=int(row.attempts))
        except REDIS_DOWN:
            with engine.begin() as conn:
                conn.execute(
                    update(q)
                    .where(*mine)
                    .values(state=target, due_at=due, token=None, claimed_by=None, lease_until=None)
                )
            raise
        with engine.begin() as conn:
            dirty = conn.execute(select(q.c.dirty).where(*mine)).scalar()
            conn.execute(delete(q).where(*mine))
        if dirty:  # queued in SQL again while it moved
            self.primary.enqueue([plan], now, fallback=True)
        return True

    # -- inspection and operator actions ---------------------------------------------------

    def stats(self, now: datetime) -> QueueStats:
        sql = self.fallback.stats(now)
        red = self._redis(lambda: self.primary.stats(now))
        if isinstance(red, _Unreachable):
            return sql
        return QueueStats(
            pending=red.pending + sql.pending,
            processing=red.processing + sql.processing,
            retrying=red.retrying + sql.retrying,
            dead_letter=red.dead_letter + sql.dead_letter,
        )

    def pending_count(self) -> int:
        red = self._redis(self.primary.pending_count)
        sql = self.fallback.pending_count()
        return sql if isinstance(red, _Unreachable) else red + sql

    def fallback_pending(self) -> int:
        """Rows waiting in the SQL fallback to move to Redis (any state)."""
        with self.fallback.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(q)).scalar_one())

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

    def quarantine_corrupt(self, now: datetime) -> list[str]:
        return self.fallback.quarantine_corrupt(now)
