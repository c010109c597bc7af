"""What only the Redis backend has: the key layout under a prefix, the per-plan lock, the
atomic Lua claim, and the SQL fallback while Redis is down (SPEC §5).

The contract every backend keeps is in `test_queue_contract.py`. The outage tests start a
private `redis-server` (AOF on, so a restart keeps what it held, as a production Redis must)
and crash it with SIGKILL mid-stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis
import sqlalchemy as sa

from defaults import default_retry_policy
from fakes.redisserver import PrivateRedis
from memora_cdn.queue.base import Claim, QueueStats, RetryPolicy
from memora_cdn.queue.fallback import FallbackQueue
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.redis_keys import RedisKeys
from memora_cdn.state.schema import export_queue

T0 = datetime(2026, 11, 1, 12, 0, 0)
LEASE = 60.0
POLICY = RetryPolicy(max_retries=3, base_seconds=30)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """A key prefix of this test's own (conftest's `redis_prefix`); its keys are deleted
    afterwards."""
    return redis_prefix


# -- key layout ---------------------------------------------------------------------------


def test_two_prefixes_on_one_redis_do_not_see_each_other(client: redis.Redis, prefix: str) -> None:
    one = RedisQueue(client, prefix=f"{prefix}site-one:")
    two = RedisQueue(client, prefix=f"{prefix}site-two:")
    assert one.enqueue(["A", "B"], T0) == ["A", "B"]
    assert two.enqueue(["A"], T0) == ["A"]  # the same plan name on another site is new there
    (claim,) = one.claim("w", T0, lease_seconds=LEASE, plans=["A"])
    assert two.stats(T0) == QueueStats(pending=1)
    assert [c.plan for c in two.claim("w", T0, lease_seconds=LEASE, limit=5)] == ["A"]
    assert one.stats(T0) == QueueStats(pending=1, processing=1)
    assert one.lock("A", "t1", 10_000)
    assert two.lock("A", "t2", 10_000)
    assert not two.renew(claim, T0, LEASE)  # a claim is only good on its own site
    keys = sorted(client.scan_iter(match=RedisKeys(prefix).pattern))
    assert keys == sorted(
        [f"{prefix}site-one:{k}" for k in ("pending", "processing", "leases", "lock:A")]
        + [f"{prefix}site-two:{k}" for k in ("processing", "leases", "lock:A")]
    )


def test_claim_records_and_dead_letters_are_json_as_documented(
    client: redis.Redis, prefix: str
) -> None:
    queue = RedisQueue(client, prefix=prefix)
    queue.enqueue(["A"], T0)
    (claim,) = queue.claim("worker-1", T0, lease_seconds=LEASE)
    record = json.loads(str(client.hget(f"{prefix}processing", "A")))
    assert record == {
        "token": claim.token,
        "worker": "worker-1",
        "lease_until": "2026-11-01T12:01:00",
        "attempts": 0,
        "is_fallback": False,
        "dirty": False,
    }
    assert client.zscore(f"{prefix}leases", "A") == (T0 - datetime(1970, 1, 1)) // timedelta(
        microseconds=1
    ) + int(LEASE * 1_000_000)
    queue.fail(claim, "boom", T0, default_retry_policy(max_retries=0))
    assert json.loads(str(client.hget(f"{prefix}dead", "A"))) == {
        "attempts": 1,
        "last_error": "boom",
        "failed_at": "2026-11-01T12:00:00",
    }


def test_an_unreadable_dead_letter_still_shows(client: redis.Redis, prefix: str) -> None:
    client.hset(f"{prefix}dead", "A", "not json")
    (letter,) = RedisQueue(client, prefix=prefix).dead_letters()
    assert (letter.plan, letter.attempts, letter.failed_at) == ("A", 0, None)
    assert letter.last_error == "unreadable dead-letter entry: 'not json'"


# -- the per-plan lock --------------------------------------------------------------------


def test_the_lock_is_taken_once_and_only_its_owner_renews_or_releases_it(
    client: redis.Redis, prefix: str
) -> None:
    queue = RedisQueue(client, prefix=prefix)
    assert queue.lock("A", "owner", 10_000)
    assert not queue.lock("A", "other", 10_000)
    assert not queue.renew_lock("A", "other", 60_000)
    assert 0 < int(client.pttl(f"{prefix}lock:A")) <= 10_000  # type: ignore[arg-type]
    assert queue.renew_lock("A", "owner", 60_000)
    assert int(client.pttl(f"{prefix}lock:A")) > 10_000  # type: ignore[arg-type]
    assert not queue.unlock("A", "other")
    assert client.get(f"{prefix}lock:A") == "owner"
    assert queue.unlock("A", "owner")
    assert client.get(f"{prefix}lock:A") is None
    assert not queue.unlock("A", "owner")
    assert queue.lock("A", "other", 10_000)


def test_an_expired_lock_is_free_and_its_old_owner_cannot_renew_it(
    client: redis.Redis, prefix: str
) -> None:
    queue = RedisQueue(client, prefix=prefix)
    assert queue.lock("A", "crashed", 50)
    time.sleep(0.2)
    assert not queue.renew_lock("A", "crashed", 10_000)
    assert queue.lock("A", "next", 10_000)
    assert not queue.unlock("A", "crashed")
    assert client.get(f"{prefix}lock:A") == "next"


# -- the atomic claim ---------------------------------------------------------------------


def test_the_lua_claim_is_atomic_under_eight_threads_with_their_own_clients(
    redis_url: str, client: redis.Redis, prefix: str
) -> None:
    plans = [f"P{n:03}" for n in range(120)]
    setup = RedisQueue(client, prefix=prefix)
    setup.enqueue(plans[:80], T0)
    for claim in setup.claim("setup", T0, lease_seconds=LEASE, limit=20):
        setup.fail(claim, "x", T0, POLICY)  # 20 retries due at +30 s
    setup.enqueue(plans[80:], T0)
    setup.claim("crashed", T0, lease_seconds=5, limit=20)  # 20 leases expired at +5 s
    assert setup.stats(at(30)) == QueueStats(pending=80, processing=20, retrying=20)

    def race(now: datetime) -> list[str]:
        taken: list[list[str]] = []
        barrier = threading.Barrier(8)

        def worker(name: str) -> None:
            own = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=10)
            queue = RedisQueue(own, prefix=prefix)
            mine: list[str] = []
            barrier.wait()
            while claims := queue.claim(name, now, lease_seconds=LEASE, limit=3):
                mine.extend(c.plan for c in claims)
            own.close()
            taken.append(mine)

        threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(taken) == 8
        return [plan for mine in taken for plan in mine]

    assert sorted(race(at(30))) == plans
    # Every lease runs out together: the takeover is just as exclusive.
    assert sorted(race(at(30 + LEASE + 1))) == plans


# -- the SQL fallback while Redis is down -------------------------------------------------


def sql_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(export_queue)).scalar_one())


def test_redis_stopped_mid_stream_loses_no_plan_and_queues_none_twice(
    private_redis: PrivateRedis, fallback_queue: FallbackQueue, state_engine: sa.Engine
) -> None:
    plans = [f"P{n:02}" for n in range(40)]
    # 200 events, each plan named 5 times over a window of 13 events that overlaps its
    # neighbours' windows, so some plans straddle the outage's start and end.
    named = sorted((5 * n + 3 * k, plan) for n, plan in enumerate(plans) for k in range(5))
    events = [plan for _, plan in named]
    before, during, after = set(events[:70]), set(events[70:140]), set(events[140:])
    assert before - during - after, "some plan must be named only before the outage"
    assert during - before - after, "some plan must be named only during the outage"
    assert before & during, "some plan must be named both before and during the outage"
    assert during & after, "some plan must be named both during and after the outage"

    for n, plan in enumerate(events):
        if n == 70:
            private_redis.crash()
        if n == 140:
            private_redis.start()
        fallback_queue.enqueue([plan], at(n))
        if 70 <= n < 140:
            assert fallback_queue.name == "redis (fallback: sql)"
        else:
            assert fallback_queue.name == "redis"
    assert fallback_queue.stats(at(200)).pending == 40 + len(during & (before | after))

    moved = fallback_queue.recover(at(200))
    assert sorted(moved) == sorted(during)
    assert sql_rows(state_engine) == 0
    assert fallback_queue.fallback_pending() == 0
    assert fallback_queue.stats(at(200)) == QueueStats(pending=40)

    claims = fallback_queue.claim("w", at(201), lease_seconds=LEASE, limit=1000)
    assert sorted(c.plan for c in claims) == plans  # each plan exactly once
    # Only plans that reached Redis through the fallback alone say so.
    assert {c.plan for c in claims if c.is_fallback} == during - before - after
    for claim in claims:
        fallback_queue.complete(claim, at(202))
    assert fallback_queue.stats(at(202)) == QueueStats()
    assert fallback_queue.recover(at(203)) == []


def test_work_goes_on_from_sql_while_redis_is_down_and_moves_back_after(
    private_redis: PrivateRedis, fallback_queue: FallbackQueue, state_engine: sa.Engine
) -> None:
    private_redis.crash()
    assert fallback_queue.enqueue(["A", "B", "C", "D"], T0) == ["A", "B", "C", "D"]
    assert fallback_queue.stats(T0) == QueueStats(pending=4, fallback_pending=4)
    a, b = fallback_queue.claim("w", T0, lease_seconds=LEASE, limit=2)
    assert (a.plan, b.plan, a.is_fallback, b.is_fallback) == ("A", "B", True, True)
    (d,) = fallback_queue.claim("w", T0, lease_seconds=LEASE, plans=["D"])
    assert fallback_queue.fail(a, "boom", T0, POLICY).retry_at == at(30)
    assert fallback_queue.fail(d, "fatal", T0, default_retry_policy(max_retries=0)).dead
    assert fallback_queue.enqueue(["B"], at(1)) == ["B"]  # B is dirty: build it again
    assert fallback_queue.name == "redis (fallback: sql)"

    private_redis.start()
    # B's claim is live: it stays in SQL until its build ends. D is a dead letter: it moves
    # but is not queued for a build.
    assert fallback_queue.recover(at(2)) == ["C", "A"]
    assert fallback_queue.name == "redis"
    assert sql_rows(state_engine) == 1
    assert fallback_queue.stats(at(2)) == QueueStats(
        pending=1, processing=1, retrying=1, dead_letter=1
    )
    assert fallback_queue.claim("w2", at(2), lease_seconds=LEASE, plans=["B"]) == []
    fallback_queue.complete(b, at(3))  # routed to SQL by its token; B was queued meanwhile
    assert fallback_queue.recover(at(4)) == ["B"]
    assert sql_rows(state_engine) == 0

    (dead,) = fallback_queue.dead_letters()
    assert (dead.plan, dead.attempts, dead.last_error, dead.failed_at) == ("D", 1, "fatal", T0)
    # A's retry kept its due time.
    assert fallback_queue.claim("w", at(29), lease_seconds=LEASE, plans=["A"]) == []
    claims = fallback_queue.claim("w", at(30), lease_seconds=LEASE, limit=5)
    assert [(c.plan, c.attempts, c.is_fallback) for c in claims] == [
        ("C", 0, True),
        ("B", 0, True),
        ("A", 1, True),
    ]
    assert all(not c.token.startswith("sql:") for c in claims)  # Redis holds them now


def test_a_redis_claim_released_while_redis_is_down_is_parked_in_sql(
    private_redis: PrivateRedis, fallback_queue: FallbackQueue, state_engine: sa.Engine
) -> None:
    fallback_queue.enqueue(["A", "B"], T0)
    a, b = fallback_queue.claim("w", T0, lease_seconds=LEASE, limit=2)
    private_redis.crash()
    fallback_queue.release(a, at(1))
    failure = fallback_queue.fail(b, "boom", at(1), POLICY)
    assert (failure.attempts, failure.retry_at) == (1, at(31))
    assert fallback_queue.stats(at(1)) == QueueStats(pending=1, retrying=1, fallback_pending=1)
    with pytest.raises(redis.exceptions.ConnectionError):
        fallback_queue.renew(a, at(1), LEASE)

    private_redis.start()
    # Redis kept both claims (AOF); the parked plans merge into them as "build again".
    assert sorted(fallback_queue.recover(at(2))) == ["A", "B"]
    assert sql_rows(state_engine) == 0
    taken: list[Claim] = fallback_queue.claim("w2", at(1 + LEASE + 1), lease_seconds=LEASE, limit=5)
    assert sorted(c.plan for c in taken) == ["A", "B"]
