"""The SQL fallback's state database, and the Redis queue over it (`FallbackQueue`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes.redisserver import PrivateRedis
from memora_cdn.database import make_engine
from memora_cdn.queue.fallback import FallbackQueue
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.state.repo import StateRepository


@pytest.fixture
def state_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    StateRepository(engine).create_schema()
    yield engine
    engine.dispose()


@pytest.fixture
def fallback_queue(private_redis: PrivateRedis, state_engine: sa.Engine) -> Iterator[FallbackQueue]:
    client = private_redis.client()
    yield FallbackQueue(RedisQueue(client), SqlQueue(state_engine, fallback=True))
    client.close()
