"""The composition root: builds every adapter from the settings and hands them in."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.exc import DBAPIError

from memora_cdn.contracts.schemas import compile_validators
from memora_cdn.core.model import Trigger
from memora_cdn.database import check_connection, database_error, make_engine, sqlite_file
from memora_cdn.errors import DatabaseNotFoundError
from memora_cdn.factories import (
    make_purger,
    make_schedule,
    make_store,
    publish_options,
    retry_policy,
)
from memora_cdn.media.windows import requeue_at
from memora_cdn.publish import Clock, Publisher
from memora_cdn.queue.base import PlanQueue
from memora_cdn.queue.fallback import FallbackQueue
from memora_cdn.queue.lock import PlanLock
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.settings import Settings
from memora_cdn.source.graph import SqlCatalogueGraph
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateRepository
from memora_cdn.state.scan_state import ScanMarks
from memora_cdn.store.base import ObjectStore
from memora_cdn.store.marker import adopt
from memora_cdn.sync.intake import Intake, IntakeResult
from memora_cdn.sync.processor import BatchProcessor, BatchReport, maintain
from memora_cdn.sync.scan import Scanner
from memora_cdn.sync.worker import Worker

if TYPE_CHECKING:  # boto3, httpx and rq are imported only by the settings that use them
    from memora_cdn.sync.rq_dispatch import RqDispatcher

log = logging.getLogger(__name__)

_PARENT_POOLS: list[object] = []
"""In a build process: the connection pools it inherited, never used or closed there."""
BUILD_PROCESSES = min(2, os.cpu_count() or 1)
"""Plans one `sync` builds at a time, each in a process of its own, when several are due."""


def worker_name() -> str:
    """Names this process in claims: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class App:
    """Every adapter of one process, built from its settings (by `build_app`)."""

    settings: Settings
    source: SqlSource
    state: StateRepository
    store: ObjectStore
    publisher: Publisher
    queue: PlanQueue
    intake: Intake
    clock: Clock = time.time
    worker_id: str = field(default_factory=worker_name)
    redis: Redis | None = None
    """The Redis connection when `redis_url` is set (queue, per-plan locks, RQ)."""
    plan_lock: PlanLock | None = None
    closers: list[Callable[[], object]] = field(default_factory=list)
    """Network clients the adapters were built with, closed with the app."""

    def processor(self, stop: threading.Event | None = None, processes: int = 1) -> BatchProcessor:
        """The batch processor; with `processes` > 1, due plans are built that many at a
        time in forked processes (`BUILD_PROCESSES` for a one-shot `sync`)."""
        if processes > 1:
            compile_validators()  # once here, inherited by every build process
        return BatchProcessor(
            self.queue,
            self.publisher,
            self.state,
            policy=retry_policy(self.settings),
            lease_seconds=self.settings.lock_ttl_seconds,
            worker_id=self.worker_id,
            clock=self.clock,
            stop=stop,
            processes=processes,
            fork_publisher=self._forked_publisher,
        )

    def _forked_publisher(self) -> Publisher:
        """In a forked build process: a publisher with connections and clients of its own.
        This app's engines let go of their pools without closing them (the parent is still
        using those connections), and the pools are kept so that nothing closes them here."""
        for engine in (self.source.engine, self.state.engine):
            _PARENT_POOLS.append(engine.pool)
            engine.dispose(close=False)
        return build_app(self.settings, self.clock).publisher

    def now(self) -> datetime:
        """The clock's time as a naive UTC datetime (what the queue and state tables take)."""
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    def prepare(self) -> None:
        """Create the state tables, or upgrade those of an earlier release in place; a store
        that release 0.1.0 published to (unmarked then) is marked, as its index was kept."""
        self.state.create_schema(
            store=self.store.identity, now=self.now(), adopt=lambda: adopt(self.store)
        )

    def housekeeping(self, interval_seconds: float) -> list[str]:
        """The worker's chores every tick: maintain the queue (plans drained back from the SQL
        fallback are logged as queued), and queue plans whose signed media URLs expire before
        the next batches could replace them. Returns the plans queued for expiring URLs."""
        maintain(self.queue, self.state, self.now())
        # A plan is due once `requeue_at` of its earliest expiry has passed; the rebuild must
        # be live within the next batch and one build (`slack`).
        margin = self.publisher.options.signed_url_margin_seconds
        slack = int(interval_seconds) + self.settings.lock_ttl_seconds
        clock = int(self.clock())
        earliest = self.state.expiring_plans(self.store.identity, before=clock + margin + slack + 1)
        expiring = sorted(p for p, at in earliest.items() if requeue_at(at, margin, slack) <= clock)
        if expiring:
            self.intake.queue_plans(expiring, trigger=Trigger.SCHEDULER)
        return expiring

    def scanner(self) -> Scanner:
        """A scanner of the source, its watermarks kept in the state tables."""
        return Scanner(self.source, ScanMarks(self.state.engine), self.clock)

    def scan(self, scanner: Scanner | None = None) -> IntakeResult:
        """One scan of the source: events queued first, then the watermarks advance."""
        scanner = scanner or self.scanner()
        result = scanner.scan()
        queued = self.intake.submit(result.events, trigger=Trigger.SCHEDULER)
        scanner.commit(result)
        for warning in result.warnings:
            log.warning("scan: %s", warning)
        if result.events:
            log.info("scan: %d changes, %d plans queued", len(result.events), len(queued.scheduled))
        return queued

    def dispatcher(self) -> RqDispatcher:
        """The scheduler's side of RQ: due plans become jobs (needs `redis_url`)."""
        from memora_cdn.sync.rq_dispatch import RqDispatcher  # rq only where it is used

        if self.redis is None:
            raise RuntimeError("RQ dispatch needs redis_url")
        return RqDispatcher(
            self.redis,
            self.queue,
            worker_id=self.worker_id,
            lease_seconds=self.settings.lock_ttl_seconds,
            now=self.now,
        )

    def worker(
        self, stop: threading.Event, on_batch: Callable[[BatchReport], None] | None = None
    ) -> Worker:
        """The scheduler of `memora-cdn worker`: scans, batches and housekeeping on the
        settings' schedule; with Redis it hands due plans to RQ instead of building them."""
        schedule = make_schedule(self.settings)
        return Worker(
            self.processor(stop),
            self.queue,
            schedule,
            self.clock,
            poll=functools.partial(self.scan, self.scanner()),
            on_batch=on_batch,
            dispatch=self.dispatcher().hand_over if self.redis is not None else None,
            housekeeping=functools.partial(self.housekeeping, schedule.interval_seconds),
        )

    def close(self) -> None:
        """Close the network clients, the engines' pools and the Redis connection."""
        for close in self.closers:
            close()
        self.source.engine.dispose()
        self.state.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def build_app(settings: Settings, clock: Clock = time.time) -> App:
    """Build every adapter from the settings (nothing is connected yet)."""
    source_engine = make_engine(settings.database_url)
    state_engine = (
        source_engine
        if settings.state_url == settings.database_url
        else make_engine(settings.state_url, "state_database_url")
    )
    source = SqlSource(source_engine)
    state = StateRepository(state_engine)
    closers: list[Callable[[], object]] = []
    store, prefix = make_store(settings, closers)
    options = publish_options(settings, prefix)
    purger = make_purger(settings, closers)
    publisher = Publisher(source, state, store, options, clock=clock, purger=purger)
    redis: Redis | None = None
    plan_lock: PlanLock | None = None
    queue: PlanQueue
    if settings.redis_url is not None:
        # Fail fast (no client-side retries, short timeouts): while Redis is down, events
        # go to the SQL fallback at once instead of waiting on a dead server.
        redis = Redis.from_url(
            settings.redis_url.get_secret_value(),
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        primary = RedisQueue(redis, prefix=settings.redis_prefix)
        queue = FallbackQueue(primary, SqlQueue(state_engine, fallback=True))
        plan_lock = primary
    else:
        queue = SqlQueue(state_engine)
    intake = Intake(SqlCatalogueGraph(source), state, queue, clock)
    return App(
        settings,
        source,
        state,
        store,
        publisher,
        queue,
        intake,
        clock,
        redis=redis,
        plan_lock=plan_lock,
        closers=closers,
    )


@contextmanager
def running(settings: Settings, *, create: bool = False) -> Iterator[App]:
    """The application for one command; its own state tables are created if missing.

    A SQLite file that is not there is an error unless `create` (`init`, `demo`): a
    mistyped path must not become a new, empty database. Connection problems are raised as
    the typed errors of `database_error`, naming the setting to fix.
    """
    if not create:
        for setting, url in (
            ("database_url", settings.database_url),
            ("state_database_url", settings.state_url),
        ):
            path = sqlite_file(url)
            if path is not None and not path.exists():
                raise DatabaseNotFoundError(setting, str(path))
    app = build_app(settings)
    try:
        check_connection(app.source.engine, "database_url", settings.database_url)
        try:
            app.prepare()
        except DBAPIError as error:
            raise database_error(
                error, "state_database_url", settings.state_url, creating=True
            ) from None
        yield app
    finally:
        app.close()
