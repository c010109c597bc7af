"""The Redis queue: the same contract as the SQL queue (SPEC §5), for many workers on many hosts.

Design notes: docs/decisions/redis-queue.md
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from memora_cdn.queue import redis_keys as lua
from memora_cdn.queue.base import (
    Claim,
    DeadLetter,
    Failure,
    Maintenance,
    QueueStats,
    RetryPolicy,
)
from memora_cdn.queue.redis_keys import DEFAULT_PREFIX, RedisKeys

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(when: datetime) -> int:
    """A naive-UTC (or aware) datetime as integer microseconds since the epoch: a score."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return (when - _EPOCH) // _MICROSECOND


class RedisQueue:
    """The plan queue in Redis, every state change one Lua script (see `redis_keys`)."""

    name = "redis"

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self._enqueue = client.register_script(lua.ENQUEUE)
        self._adopt = client.register_script(lua.ADOPT)
        self._claim = client.register_script(lua.CLAIM)
        self._renew = client.register_script(lua.RENEW)
        self._complete = client.register_script(lua.COMPLETE)
        self._release = client.register_script(lua.RELEASE)
        self._fail = client.register_script(lua.FAIL)
        self._retry_dead = client.register_script(lua.RETRY_DEAD)
        self._clear_dead = client.register_script(lua.CLEAR_DEAD)

    def ping(self) -> bool:
        """Whether Redis answers (raises redis-py's connection errors when it does not)."""
        return bool(self.client.ping())

    # -- scheduling -----------------------------------------------------------------------

    def enqueue(self, plans: Iterable[str], now: datetime, *, fallback: bool = False) -> list[str]:
        """`fallback`: the plans come from the SQL fallback; their claims say so."""
        unique = list(dict.fromkeys(plans))
        if not unique:
            return []
        args: list[str | int] = [to_micros(now), "1" if fallback else "0", *unique]
        return [str(plan) for plan in self._enqueue(keys=self.keys.queue, args=args)]

    def adopt(
        self,
        plan: str,
        state: str,
        due: datetime,
        *,
        attempts: int = 0,
        dead: DeadLetter | None = None,
    ) -> bool:
        """Take in a plan drained from the SQL fallback as `pending`, `retry` or `dead`,
        merged with what Redis holds (see `redis_keys.ADOPT`). True when placed as given."""
        if state not in ("pending", "retry", "dead"):
            raise ValueError(f"cannot adopt a plan in state {state!r}")
        letter = _dead_json(dead) if dead is not None else ""
        args: list[str | int] = [state, plan, to_micros(due), attempts, letter]
        return bool(self._adopt(keys=self.keys.queue, args=args))

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
        if limit < 1:
            return []
        named = list(dict.fromkeys(plans)) if plans is not None else None
        if named is not None and not named:
            return []
        lease = now + timedelta(seconds=lease_seconds)
        args: list[str | int] = [
            worker[:200],
            to_micros(now),
            to_micros(lease),
            lease.isoformat(),
            "1" if include_pending else "0",
            limit,
            secrets.token_hex(16),
            -1 if named is None else len(named),
            *(named or []),
        ]
        rows: list[Any] = self._claim(keys=self.keys.queue, args=args)
        return [
            Claim(str(plan), str(token), int(attempts), self.name, fallback == "1")
            for plan, token, attempts, fallback in rows
        ]

    def renew(self, claim: Claim, now: datetime, lease_seconds: float) -> bool:
        lease = now + timedelta(seconds=lease_seconds)
        args: list[str | int] = [claim.plan, claim.token, to_micros(lease), lease.isoformat()]
        return bool(self._renew(keys=self.keys.queue, args=args))

    def complete(self, claim: Claim, now: datetime) -> None:
        self._complete(keys=self.keys.queue, args=[claim.plan, claim.token, to_micros(now)])

    def release(self, claim: Claim, now: datetime) -> None:
        self._release(keys=self.keys.queue, args=[claim.plan, claim.token, to_micros(now)])

    def fail(self, claim: Claim, error: str, now: datetime, policy: RetryPolicy) -> Failure:
        failure = policy.after(claim.attempts, now)
        attempts, retry_at = failure.attempts, failure.retry_at
        letter = "" if retry_at else _dead_json(DeadLetter(claim.plan, attempts, error, now))
        due = "" if retry_at is None else to_micros(retry_at)
        self._fail(keys=self.keys.queue, args=[claim.plan, claim.token, attempts, due, letter])
        return failure

    def maintain(self, now: datetime) -> Maintenance:
        """Nothing to do: a corrupt claim record matches no token, and its lease lets a
        claimer take the plan over once it runs out."""
        return Maintenance()

    # -- inspection and operator actions ---------------------------------------------------

    def stats(self, now: datetime) -> QueueStats:
        pipe = self.client.pipeline(transaction=True)
        pipe.zcard(self.keys.pending)
        pipe.hlen(self.keys.processing)
        pipe.zcard(self.keys.retry)
        pipe.hlen(self.keys.dead)
        pending, processing, retrying, dead = (int(n) for n in pipe.execute())
        return QueueStats(pending, processing, retrying, dead)

    def pending_count(self) -> int:
        count: int = self.client.zcard(self.keys.pending)  # type: ignore[assignment]
        return int(count)

    def dead_letters(self) -> list[DeadLetter]:
        raw: dict[str, str] = self.client.hgetall(self.keys.dead)  # type: ignore[assignment]
        letters = [_parse_dead(plan, text) for plan, text in raw.items()]
        return sorted(letters, key=lambda d: (d.failed_at or datetime.min, d.plan))

    def retry_dead(self, plan: str, now: datetime) -> bool:
        return bool(self._retry_dead(keys=self.keys.queue, args=[plan, to_micros(now)]))

    def clear_dead(self, plan: str | None = None) -> int:
        args = [] if plan is None else [plan]
        return int(self._clear_dead(keys=self.keys.queue, args=args))

    # -- the per-plan build lock -----------------------------------------------------------

    def _plan_lock(self, plan: str, token: str | None, ttl_ms: int) -> Lock:
        """redis-py's lock on the plan's key, held by `token` (shared across processes: the
        token travels with the claim, so the lock is not tied to this thread)."""
        lock = Lock(self.client, self.keys.lock(plan), timeout=ttl_ms / 1000, thread_local=False)
        lock.local.token = token
        return lock

    def lock(self, plan: str, token: str, ttl_ms: int) -> bool:
        """Take the plan's lock for `ttl_ms` unless someone holds it."""
        return bool(self._plan_lock(plan, None, ttl_ms).acquire(blocking=False, token=token))

    def renew_lock(self, plan: str, token: str, ttl_ms: int) -> bool:
        """Extend the lock; False when `token` does not hold it (expired, or someone else's)."""
        try:
            return bool(
                self._plan_lock(plan, token, ttl_ms).extend(ttl_ms / 1000, replace_ttl=True)
            )
        except LockNotOwnedError:
            return False

    def unlock(self, plan: str, token: str) -> bool:
        """Release the lock if `token` holds it; False (and nothing changes) otherwise."""
        try:
            self._plan_lock(plan, token, 1).release()
        except LockNotOwnedError:
            return False
        return True


def _dead_json(letter: DeadLetter) -> str:
    failed_at = letter.failed_at.isoformat() if letter.failed_at is not None else None
    body = {"attempts": letter.attempts, "last_error": letter.last_error, "failed_at": failed_at}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _parse_dead(plan: str, text: str) -> DeadLetter:
    """A dead letter; an entry that is not the JSON we write still shows, with what is known."""
    try:
        body = json.loads(text)
        attempts = int(body.get("attempts") or 0)
        error = body.get("last_error")
        failed = body.get("failed_at")
        failed_at = datetime.fromisoformat(failed) if isinstance(failed, str) else None
    except (ValueError, TypeError, AttributeError):
        return DeadLetter(plan, 0, f"unreadable dead-letter entry: {text[:200]!r}", None)
    return DeadLetter(plan, attempts, None if error is None else str(error), failed_at)
