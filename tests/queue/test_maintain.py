"""`PlanQueue.maintain`: each backend's upkeep, and claims that name the queue holding them."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis
import sqlalchemy as sa

from defaults import default_retry_policy
from fakes.redisserver import PrivateRedis
from memora_cdn.queue.base import Maintenance, QueueState
from memora_cdn.queue.fallback import FallbackQueue
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.state.schema import export_queue

T0 = datetime(2026, 11, 1, 12, 0, 0)
LEASE = 60.0


def corrupt_row(engine: sa.Engine, plan: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(export_queue).values(
                plan_id=plan, state="bogus", enqueued_at=T0, due_at=T0, attempts=0
            )
        )


def test_the_sql_queue_dead_letters_corrupt_rows(state_engine: sa.Engine) -> None:
    queue = SqlQueue(state_engine)
    queue.enqueue(["A"], T0)
    corrupt_row(state_engine, "X")
    assert queue.maintain(T0) == Maintenance(quarantined=("X",))
    assert [d.plan for d in queue.dead_letters()] == ["X"]
    assert queue.maintain(T0) == Maintenance()
    assert queue.pending_count() == 1


def test_the_redis_queue_has_nothing_to_maintain(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        queue = RedisQueue(client, prefix=redis_prefix)
        queue.enqueue(["A"], T0)
        assert queue.maintain(T0) == Maintenance()
        assert queue.pending_count() == 1
    finally:
        client.close()


def test_the_fallback_queue_quarantines_and_recovers_once_redis_answers(
    private_redis: PrivateRedis, fallback_queue: FallbackQueue, state_engine: sa.Engine
) -> None:
    private_redis.crash()
    fallback_queue.enqueue(["A", "B"], T0)
    corrupt_row(state_engine, "X")
    assert fallback_queue.maintain(T0) == Maintenance(quarantined=("X",))  # Redis still down
    private_redis.start()
    done = fallback_queue.maintain(T0 + timedelta(seconds=1))
    assert done == Maintenance(recovered=("A", "B"))
    assert fallback_queue.fallback_pending() == 0
    assert [d.plan for d in fallback_queue.dead_letters()] == ["X"]  # moved to Redis too


def test_claims_name_the_queue_that_holds_them_and_keep_tokens_opaque(
    private_redis: PrivateRedis, fallback_queue: FallbackQueue, state_engine: sa.Engine
) -> None:
    fallback_queue.enqueue(["R"], T0)
    [in_redis] = fallback_queue.claim("w", T0, lease_seconds=LEASE)
    assert (in_redis.backend, in_redis.is_fallback) == ("redis", False)
    private_redis.crash()
    fallback_queue.enqueue(["S"], T0)
    [in_sql] = fallback_queue.claim("w", T0, lease_seconds=LEASE)
    assert (in_sql.plan, in_sql.backend, in_sql.is_fallback) == ("S", "sql", True)
    with state_engine.connect() as conn:
        token = conn.execute(sa.select(export_queue.c.token)).scalar_one()
    assert in_sql.token == token  # the SQL queue's own token, as it issued it
    # Routed by the claim's backend: the SQL claim fails in SQL while Redis is down ...
    failure = fallback_queue.fail(in_sql, "boom", T0, default_retry_policy())
    assert failure.attempts == 1
    with state_engine.connect() as conn:
        state = conn.execute(sa.select(export_queue.c.state)).scalar_one()
    assert state == QueueState.RETRY.value
    # ... and a Redis claim's failure is parked in SQL with the policy's arithmetic.
    parked = fallback_queue.fail(in_redis, "boom", T0, default_retry_policy(max_retries=0))
    assert parked.dead
    assert sorted(d.plan for d in fallback_queue.dead_letters()) == ["R"]
