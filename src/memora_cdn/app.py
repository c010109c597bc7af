"""The composition root: builds every adapter from the settings and hands them in."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from memora_cdn.core.render import RenderOptions
from memora_cdn.errors import SettingError
from memora_cdn.publish import Clock, Publisher, PublishOptions
from memora_cdn.queue.base import PlanQueue, RetryPolicy
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.settings import Settings
from memora_cdn.source.graph import SqlCatalogueGraph
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateStore
from memora_cdn.store.base import ObjectStore
from memora_cdn.store.local import FileStore
from memora_cdn.sync.intake import Intake
from memora_cdn.sync.processor import BatchProcessor


def make_engine(url: str, setting: str = "database_url") -> Engine:
    """An engine for a database URL; SQLite files get WAL and a busy timeout."""
    try:
        parsed = make_url(url)
        if parsed.drivername == "mysql":
            parsed = parsed.set(drivername="mysql+pymysql")
        elif parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        # READ COMMITTED: no gap locks, so workers writing different plans' rows at once
        # never deadlock each other (MariaDB's default, REPEATABLE READ, would).
        return create_engine(
            parsed, pool_pre_ping=True, pool_recycle=3600, isolation_level="READ COMMITTED"
        )
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        shown = url if "@" not in url else make_url(url).render_as_string(hide_password=True)
        raise SettingError(setting, shown, f"not a usable database URL ({error})") from None


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_store(settings: Settings) -> ObjectStore:
    if settings.store.startswith("file://"):
        return FileStore(settings.store_path)
    raise SettingError("store", settings.store, "S3 stores are not supported by this build yet")


def worker_name() -> str:
    """Names this process in claims: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class App:
    settings: Settings
    source: SqlSource
    state: StateStore
    store: ObjectStore
    publisher: Publisher
    queue: PlanQueue
    intake: Intake
    clock: Clock = time.time
    worker_id: str = field(default_factory=worker_name)

    def processor(self, stop: threading.Event | None = None) -> BatchProcessor:
        return BatchProcessor(
            self.queue,
            self.publisher,
            self.state,
            policy=RetryPolicy(self.settings.max_retries, self.settings.retry_base_seconds),
            lease_seconds=self.settings.lock_ttl_seconds,
            worker_id=self.worker_id,
            clock=self.clock,
            stop=stop,
        )

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    def close(self) -> None:
        self.source.engine.dispose()
        self.state.engine.dispose()


def build_app(settings: Settings, clock: Clock = time.time) -> App:
    source_engine = make_engine(settings.database_url)
    state_engine = (
        source_engine
        if settings.state_url == settings.database_url
        else make_engine(settings.state_url, "state_database_url")
    )
    source = SqlSource(source_engine)
    state = StateStore(state_engine)
    store = make_store(settings)
    options = PublishOptions(
        render=RenderOptions(
            shard_threshold=settings.shard_threshold,
            shard_max_bytes=settings.shard_max_bytes,
        ),
        upload_concurrency=settings.upload_concurrency,
        manifest_cache_seconds=settings.manifest_cache_seconds,
        document_cache_seconds=settings.document_cache_seconds,
    )
    publisher = Publisher(source, state, store, options, clock=clock)
    queue = SqlQueue(state_engine)
    intake = Intake(SqlCatalogueGraph(source), state, queue, clock)
    return App(settings, source, state, store, publisher, queue, intake, clock)


@contextmanager
def running(settings: Settings) -> Iterator[App]:
    """The application for one command; its own state tables are created if missing."""
    app = build_app(settings)
    try:
        app.state.create_schema()
        yield app
    finally:
        app.close()
