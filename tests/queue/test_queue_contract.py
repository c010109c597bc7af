"""The queue contract (SPEC §5): one suite, every backend.

Each test states one rule of the contract; the `queue` fixture runs it on the SQL queue over
SQLite, MariaDB and PostgreSQL, on the Redis queue, and on Redis with its SQL fallback (Redis
up). Each Redis run has a key prefix of its own, whose keys are deleted afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import redis
import sqlalchemy as sa

from defaults import default_retry_policy
from memora_cdn.database import make_engine
from memora_cdn.queue.base import PlanQueue, QueueStats, RetryPolicy
from memora_cdn.queue.fallback import FallbackQueue
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.state.repo import StateRepository

T0 = datetime(2026, 11, 1, 12, 0, 0)
LEASE = 60.0
POLICY = RetryPolicy(max_retries=3, base_seconds=30)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# Every test runs once per backend: (backend, the database behind `db_url`). Redis needs no
# SQL database; the fallback's SQL side is SQLite.
pytestmark = pytest.mark.parametrize(
    ("backend", "db_url"),
    [
        pytest.param("sql", "sqlite", id="sql-sqlite"),
        pytest.param("sql", "mariadb", id="sql-mariadb", marks=pytest.mark.mariadb),
        pytest.param("sql", "postgres", id="sql-postgres", marks=pytest.mark.postgres),
        pytest.param("redis", "sqlite", id="redis"),
        pytest.param("fallback", "sqlite", id="redis-with-sql-fallback"),
    ],
    indirect=["db_url"],
)

QueueFactory = Callable[[], PlanQueue]


@pytest.fixture
def queue_engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    StateRepository(engine).create_schema()
    yield engine
    engine.dispose()


@pytest.fixture
def make_queue(
    request: pytest.FixtureRequest, backend: str, queue_engine: sa.Engine
) -> Iterator[QueueFactory]:
    """Builds queues on one shared backend, each with connections of its own (as separate
    workers have)."""
    if backend == "sql":
        yield lambda: SqlQueue(queue_engine)
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")  # its keys are deleted afterwards
    clients: list[redis.Redis] = []

    def redis_queue() -> RedisQueue:
        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10)
        clients.append(client)
        return RedisQueue(client, prefix=prefix)

    def fallback_queue() -> FallbackQueue:
        return FallbackQueue(redis_queue(), SqlQueue(queue_engine, fallback=True))

    try:
        yield redis_queue if backend == "redis" else fallback_queue
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def queue(make_queue: QueueFactory) -> PlanQueue:
    return make_queue()


def test_enqueue_deduplicates_and_reports_what_is_newly_scheduled(queue: PlanQueue) -> None:
    assert queue.enqueue(["A", "B", "A"], T0) == ["A", "B"]
    assert queue.enqueue(["B", "C"], at(1)) == ["C"]
    assert queue.pending_count() == 3
    assert queue.stats(at(1)) == QueueStats(pending=3)


def test_a_claimed_plan_is_not_claimed_twice(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    (claim,) = queue.claim("w1", at(1), lease_seconds=LEASE)
    assert (claim.plan, claim.attempts) == ("A", 0)
    assert queue.claim("w2", at(2), lease_seconds=LEASE) == []
    assert queue.stats(at(2)) == QueueStats(processing=1)


def test_complete_forgets_the_plan(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    (claim,) = queue.claim("w1", at(1), lease_seconds=LEASE)
    queue.complete(claim, at(2))
    assert queue.stats(at(2)) == QueueStats()
    assert queue.claim("w1", at(3), lease_seconds=LEASE) == []


def test_a_plan_queued_while_building_is_built_again_afterwards(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    (claim,) = queue.claim("w1", at(1), lease_seconds=LEASE)
    assert queue.enqueue(["A"], at(2)) == ["A"]
    assert queue.enqueue(["A"], at(3)) == []  # already marked
    queue.complete(claim, at(4))
    assert queue.stats(at(4)) == QueueStats(pending=1)
    (again,) = queue.claim("w1", at(5), lease_seconds=LEASE)
    assert again.plan == "A"
    assert again.token != claim.token


def test_a_crashed_workers_claim_returns_after_its_lease(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    (lost,) = queue.claim("crashed", at(1), lease_seconds=LEASE)
    assert queue.claim("w2", at(1 + LEASE - 1), lease_seconds=LEASE) == []
    (taken,) = queue.claim("w2", at(1 + LEASE + 1), lease_seconds=LEASE)
    assert taken.plan == "A"
    # The old holder can no longer touch it.
    assert not queue.renew(lost, at(70), LEASE)
    queue.complete(lost, at(70))
    assert queue.stats(at(70)) == QueueStats(processing=1)
    queue.complete(taken, at(71))
    assert queue.stats(at(71)) == QueueStats()


def test_renewing_keeps_the_lease(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    (claim,) = queue.claim("w1", at(0), lease_seconds=LEASE)
    assert queue.renew(claim, at(50), LEASE)
    assert queue.claim("w2", at(100), lease_seconds=LEASE) == []
    assert queue.claim("w2", at(111), lease_seconds=LEASE) != []


def test_failures_retry_after_30_60_120_seconds_then_dead_letter(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    now = T0
    for failures, delay in ((1, 30), (2, 60), (3, 120)):
        (claim,) = queue.claim("w", now, lease_seconds=LEASE)
        assert claim.attempts == failures - 1
        outcome = queue.fail(claim, f"boom {failures}", now, POLICY)
        assert (outcome.attempts, outcome.retry_at) == (failures, now + timedelta(seconds=delay))
        assert queue.stats(now) == QueueStats(retrying=1)
        assert queue.claim("w", now + timedelta(seconds=delay - 1), lease_seconds=LEASE) == []
        now += timedelta(seconds=delay)
    (claim,) = queue.claim("w", now, lease_seconds=LEASE)
    assert claim.attempts == 3
    outcome = queue.fail(claim, "boom 4", now, POLICY)
    assert outcome.dead
    assert queue.stats(now) == QueueStats(dead_letter=1)
    (dead,) = queue.dead_letters()
    assert (dead.plan, dead.attempts, dead.last_error, dead.failed_at) == ("A", 4, "boom 4", now)
    assert queue.claim("w", now + timedelta(days=1), lease_seconds=LEASE) == []


def test_a_dead_letter_can_be_retried_with_a_fresh_budget(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    for _ in range(4):
        (claim,) = queue.claim("w", at(10_000), lease_seconds=LEASE)
        queue.fail(claim, "boom", at(0), POLICY)
    assert [d.plan for d in queue.dead_letters()] == ["A"]
    assert queue.enqueue(["A"], at(1)) == []  # a dead letter waits for its operator
    assert queue.retry_dead("A", at(2))
    assert not queue.retry_dead("A", at(2))
    (claim,) = queue.claim("w", at(3), lease_seconds=LEASE)
    assert claim.attempts == 0


def test_clearing_dead_letters(queue: PlanQueue) -> None:
    queue.enqueue(["A", "B", "C"], T0)
    for claim in queue.claim("w", T0, lease_seconds=LEASE, limit=3):
        queue.fail(claim, "x", T0, default_retry_policy(max_retries=0))
    assert queue.clear_dead("B") == 1
    assert sorted(d.plan for d in queue.dead_letters()) == ["A", "C"]
    assert queue.clear_dead() == 2
    assert queue.stats(T0) == QueueStats()


def test_retries_only_skips_pending_plans(queue: PlanQueue) -> None:
    queue.enqueue(["RETRY", "NEW"], T0)
    (claim,) = queue.claim("w", T0, lease_seconds=LEASE, plans=["RETRY"])
    queue.fail(claim, "x", T0, POLICY)
    claims = queue.claim("w", at(30), lease_seconds=LEASE, limit=5, include_pending=False)
    assert [c.plan for c in claims] == ["RETRY"]
    assert queue.stats(at(30)) == QueueStats(pending=1, processing=1)


def test_claiming_named_plans_only(queue: PlanQueue) -> None:
    queue.enqueue(["A", "B", "C"], T0)
    claims = queue.claim("w", T0, lease_seconds=LEASE, limit=5, plans=["B", "Z"])
    assert [c.plan for c in claims] == ["B"]


def test_release_puts_back_without_counting_a_failure(queue: PlanQueue) -> None:
    queue.enqueue(["A"], T0)
    (claim,) = queue.claim("w", T0, lease_seconds=LEASE)
    queue.release(claim, at(1))
    assert queue.stats(at(1)) == QueueStats(pending=1)
    (again,) = queue.claim("w", at(2), lease_seconds=LEASE)
    assert again.attempts == 0


def test_claims_come_in_order_of_due_time(queue: PlanQueue) -> None:
    queue.enqueue(["late"], at(5))
    queue.enqueue(["early"], at(1))
    claims = queue.claim("w", at(10), lease_seconds=LEASE, limit=2)
    assert [c.plan for c in claims] == ["early", "late"]


def test_concurrent_claimers_never_share_a_plan(make_queue: QueueFactory, queue: PlanQueue) -> None:
    plans = [f"P{n:02}" for n in range(40)]
    queue.enqueue(plans, T0)
    taken: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        mine: list[str] = []
        own = make_queue()
        barrier.wait()
        while claims := own.claim(name, at(1), lease_seconds=LEASE, limit=3):
            mine.extend(c.plan for c in claims)
        taken[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [plan for mine in taken.values() for plan in mine]
    assert sorted(everything) == plans
