"""The SQL queue (`cdn_export_queue`): the queue in standalone mode, and Redis's fallback.

Design notes: docs/decisions/queue.md
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from memora_cdn.queue.base import (
    Claim,
    DeadLetter,
    Failure,
    Maintenance,
    QueueState,
    QueueStats,
    RetryPolicy,
)
from memora_cdn.state.schema import export_queue as q

log = logging.getLogger(__name__)

_KNOWN = [state.value for state in QueueState]


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One row of the table as it was read (for moving it to another queue)."""

    plan: str
    state: str
    due_at: datetime | None
    attempts: int
    token: str | None
    lease_until: datetime | None
    last_error: str | None
    failed_at: datetime | None

    def dead_letter(self) -> DeadLetter:
        """The row as a dead letter."""
        return DeadLetter(self.plan, self.attempts, self.last_error, self.failed_at)


@dataclass(frozen=True, slots=True)
class Moving:
    """A row held while it moves to another queue: to land there as `state`, due at `due`."""

    plan: str
    token: str
    state: str
    due: datetime
    attempts: int


class SqlQueue:
    """The plan queue in the state database's `cdn_export_queue` table."""

    name = "sql"

    def __init__(self, engine: Engine, *, fallback: bool = False) -> None:
        self.engine = engine
        self.fallback = fallback
        """Rows written by this queue are marked `is_fallback` (Redis was unreachable)."""

    # -- scheduling -----------------------------------------------------------------------

    def enqueue(self, plans: Iterable[str], now: datetime) -> list[str]:
        scheduled: list[str] = []
        unique = list(dict.fromkeys(plans))
        waiting = self._waiting(unique)
        for plan in unique:
            if plan not in waiting and self._enqueue_one(plan, now):
                scheduled.append(plan)
        return scheduled

    def _waiting(self, plans: list[str]) -> set[str]:
        """Plans already waiting for a build that will see the change queueing them now
        (pending, retrying, dead, or being built and already marked to build again): one
        read, so events for plans in the queue take no write lock. A row that changes
        after this read is still handled by `_enqueue_one`'s conditional writes for the
        others; those read as waiting have their build still to start, or to repeat."""
        if not plans:
            return set()
        building = and_(q.c.state == QueueState.PROCESSING.value, ~q.c.dirty)
        query = select(q.c.plan_id).where(q.c.plan_id.in_(plans), ~building)
        with self.engine.connect() as conn:
            found: list[str] = list(conn.execute(query).scalars())
        return set(found)

    def _enqueue_one(self, plan: str, now: datetime) -> bool:
        for _ in range(3):
            with self.engine.begin() as conn:
                marked = conn.execute(
                    update(q)
                    .where(q.c.plan_id == plan, q.c.state == QueueState.PROCESSING, ~q.c.dirty)
                    .values(dirty=True)
                )
                if marked.rowcount:
                    return True
                present = conn.execute(select(q.c.state).where(q.c.plan_id == plan)).first()
                if present is not None:
                    return False  # already pending, retrying, dirty or dead: deduplicated
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(q).values(
                                plan_id=plan,
                                state=QueueState.PENDING.value,
                                enqueued_at=now,
                                due_at=now,
                                attempts=0,
                                dirty=False,
                                is_fallback=self.fallback,
                            )
                        )
                except IntegrityError:
                    continue  # another process queued it between our read and insert
                return True
        return False

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
        due = self._claimable(now, include_pending)
        query = select(q.c.plan_id, q.c.attempts, q.c.is_fallback).where(due)
        if plans is not None:
            query = query.where(q.c.plan_id.in_(list(plans)))
        query = query.order_by(q.c.due_at, q.c.plan_id).limit(max(limit * 4, limit + 8))
        lease = now + timedelta(seconds=lease_seconds)
        claims: list[Claim] = []
        with self.engine.connect() as conn:
            candidates: list[Any] = list(conn.execute(query).all())
        for plan, attempts, is_fallback in candidates:
            if len(claims) >= limit:
                break
            token = secrets.token_hex(16)
            with self.engine.begin() as conn:
                won = conn.execute(
                    update(q)
                    .where(q.c.plan_id == plan, due)
                    .values(
                        state=QueueState.PROCESSING.value,
                        token=token,
                        claimed_by=worker[:200],
                        lease_until=lease,
                        dirty=False,
                    )
                )
            if won.rowcount == 1:
                claims.append(Claim(plan, token, int(attempts), self.name, bool(is_fallback)))
        return claims

    @staticmethod
    def _claimable(now: datetime, include_pending: bool) -> ColumnElement[bool]:
        waiting = [QueueState.RETRY.value] + ([QueueState.PENDING.value] if include_pending else [])
        return or_(
            and_(q.c.state.in_(waiting), q.c.due_at <= now),
            and_(q.c.state == QueueState.PROCESSING.value, q.c.lease_until < now),
        )

    def _held(self, claim: Claim) -> ColumnElement[bool]:
        return and_(
            q.c.plan_id == claim.plan,
            q.c.token == claim.token,
            q.c.state == QueueState.PROCESSING.value,
        )

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> bool:
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(q)
                .where(self._held(claim))
                .values(lease_until=now + timedelta(seconds=lease_seconds))
            )
        return renewed.rowcount == 1

    def complete(self, claim: Claim, now: datetime) -> None:
        with self.engine.begin() as conn:
            gone = conn.execute(delete(q).where(self._held(claim), ~q.c.dirty))
            if gone.rowcount:
                return
            # Queued again while it was being built: build it once more.
            conn.execute(update(q).where(self._held(claim)).values(**self._pending(now)))

    def release(self, claim: Claim, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(q).where(self._held(claim)).values(**self._pending(now)))

    @staticmethod
    def _pending(now: datetime) -> dict[str, Any]:
        return {
            "state": QueueState.PENDING.value,
            "due_at": now,
            "token": None,
            "claimed_by": None,
            "lease_until": None,
            "dirty": False,
        }

    def fail(self, claim: Claim, error: str, now: datetime, policy: RetryPolicy) -> Failure:
        failure = policy.after(claim.attempts, now)
        with self.engine.begin() as conn:
            conn.execute(update(q).where(self._held(claim)).values(**_failed(failure, error, now)))
        return failure

    def maintain(self, now: datetime) -> Maintenance:
        return Maintenance(quarantined=tuple(self._quarantine_corrupt(now)))

    # -- inspection and operator actions ---------------------------------------------------

    def stats(self, now: datetime) -> QueueStats:
        query = select(q.c.state, func.count()).group_by(q.c.state)
        with self.engine.connect() as conn:
            rows: list[Any] = list(conn.execute(query))
        counts = {str(state): int(n) for state, n in rows}
        return QueueStats(
            pending=counts.get(QueueState.PENDING.value, 0),
            processing=counts.get(QueueState.PROCESSING.value, 0),
            retrying=counts.get(QueueState.RETRY.value, 0),
            dead_letter=counts.get(QueueState.DEAD.value, 0),
        )

    def pending_count(self) -> int:
        query = select(func.count()).where(q.c.state == QueueState.PENDING.value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def dead_letters(self) -> list[DeadLetter]:
        query = (
            select(q.c.plan_id, q.c.attempts, q.c.last_error, q.c.failed_at)
            .where(q.c.state == QueueState.DEAD.value)
            .order_by(q.c.failed_at, q.c.plan_id)
        )
        with self.engine.connect() as conn:
            return [DeadLetter(r[0], int(r[1]), r[2], r[3]) for r in conn.execute(query)]

    def retry_dead(self, plan: str, now: datetime) -> bool:
        values = {**self._pending(now), "attempts": 0}
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(q)
                .where(q.c.plan_id == plan, q.c.state == QueueState.DEAD.value)
                .values(**values)
            )
        return moved.rowcount == 1

    def clear_dead(self, plan: str | None = None) -> int:
        query = delete(q).where(q.c.state == QueueState.DEAD.value)
        if plan is not None:
            query = query.where(q.c.plan_id == plan)
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount)

    def _quarantine_corrupt(self, now: datetime) -> list[str]:
        """Dead-letter rows no worker could ever take (unknown state, empty plan, no due
        time), so they are visible to an operator instead of silently stuck."""
        broken = or_(q.c.state.not_in(_KNOWN), q.c.plan_id == "", q.c.due_at.is_(None))
        with self.engine.begin() as conn:
            rows = [r[0] for r in conn.execute(select(q.c.plan_id).where(broken))]
            if rows:
                conn.execute(
                    update(q)
                    .where(broken)
                    .values(
                        state=QueueState.DEAD.value,
                        due_at=now,
                        last_error="corrupt queue row (unknown state or missing fields)",
                        failed_at=now,
                        token=None,
                    )
                )
        for plan in rows:
            log.warning("corrupt queue row for plan %r moved to the dead letter", plan)
        return rows

    # -- moving rows to another queue (the fallback's recovery into Redis) ------------------

    def rows(self) -> list[QueueRow]:
        """Every row, in due order."""
        columns = ("plan_id", "state", "due_at", "attempts", "token", "lease_until")
        query = select(*(q.c[c] for c in (*columns, "last_error", "failed_at")))
        with self.engine.connect() as conn:
            found: list[Any] = list(conn.execute(query.order_by(q.c.due_at, q.c.plan_id)))
        return [QueueRow(str(r[0]), str(r[1]), r[2], int(r[3] or 0), *r[4:]) for r in found]

    def size(self) -> int:
        """Rows in the table, in any state."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(q)).scalar_one())

    def forget_dead(self, plan: str) -> None:
        """Delete the plan's dead letter (moved elsewhere)."""
        with self.engine.begin() as conn:
            conn.execute(delete(q).where(q.c.plan_id == plan, q.c.state == QueueState.DEAD.value))

    def hold_for_move(self, row: QueueRow, now: datetime, lease: timedelta) -> Moving | None:
        """Take a row that is to move to another queue, as a claim would (two movers never
        take one row): pending or retry as it is, a claim whose lease ran out as pending now.
        None for a live claim, a corrupt row, or a row that changed since it was read."""
        expected = [q.c.plan_id == row.plan, q.c.state == row.state]
        if row.state == QueueState.PROCESSING.value:
            if row.lease_until is None or row.lease_until >= now:
                return None  # a live claim: moved once it completes, fails or expires
            expected += [q.c.token == row.token, q.c.lease_until < now]
            state, due = QueueState.PENDING.value, now
        elif row.state in (QueueState.PENDING.value, QueueState.RETRY.value) and row.due_at:
            state, due = row.state, row.due_at
        else:
            return None  # dead letters move whole; a corrupt row is quarantined
        token = f"recovery-{secrets.token_hex(12)}"
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(q)
                .where(*expected)
                .values(
                    state=QueueState.PROCESSING.value,
                    token=token,
                    claimed_by="fallback-recovery",
                    lease_until=now + lease,
                    dirty=False,
                )
            )
        if taken.rowcount != 1:
            return None  # claimed or moved by someone else meanwhile
        return Moving(row.plan, token, state, due, row.attempts)

    def cancel_move(self, moving: Moving) -> None:
        """The move failed: the row is as it would have landed, here."""
        with self.engine.begin() as conn:
            conn.execute(
                update(q)
                .where(q.c.plan_id == moving.plan, q.c.token == moving.token)
                .values(**{**self._pending(moving.due), "state": moving.state})
            )

    def end_move(self, moving: Moving) -> bool:
        """The move is done: delete the row. True when it was queued again meanwhile."""
        mine = [q.c.plan_id == moving.plan, q.c.token == moving.token]
        with self.engine.begin() as conn:
            dirty = conn.execute(select(q.c.dirty).where(*mine)).scalar()
            conn.execute(delete(q).where(*mine))
        return bool(dirty)

    def park_failure(self, plan: str, failure: Failure, error: str, now: datetime) -> None:
        """Record the failure of a build claimed elsewhere (a retry, or a dead letter),
        unless the plan is queued here already (that entry builds it again)."""
        row = {
            "plan_id": plan,
            "enqueued_at": now,
            "is_fallback": self.fallback,
            **_failed(failure, error, now),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(q).values(**row))
        except IntegrityError:
            pass


def _failed(failure: Failure, error: str, now: datetime) -> dict[str, Any]:
    """The row's values after a failed build."""
    state = QueueState.DEAD if failure.dead else QueueState.RETRY
    return {
        "state": state.value,
        "attempts": failure.attempts,
        "due_at": failure.retry_at or now,
        "token": None,
        "claimed_by": None,
        "lease_until": None,
        "dirty": False,
        "last_error": error,
        "failed_at": now,
    }
