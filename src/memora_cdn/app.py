"""The composition root: builds every adapter from the settings and hands them in."""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from memora_cdn.contracts.validate import compile_validators
from memora_cdn.core.model import Trigger
from memora_cdn.core.render import RenderOptions
from memora_cdn.errors import (
    DatabaseDeniedError,
    DatabaseLoginError,
    DatabaseNotFoundError,
    SettingError,
    StateTablesDeniedError,
    UnavailableError,
)
from memora_cdn.media.signing import make_config_signer
from memora_cdn.media.windows import requeue_at
from memora_cdn.publish import Clock, Publisher, PublishOptions
from memora_cdn.purge.base import NoPurger, Purger
from memora_cdn.queue.base import PlanQueue, RetryPolicy
from memora_cdn.queue.fallback import FallbackQueue
from memora_cdn.queue.redis import RedisQueue
from memora_cdn.queue.sql import SqlQueue
from memora_cdn.settings import Settings, load_settings
from memora_cdn.source.graph import SqlCatalogueGraph
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateStore
from memora_cdn.store.base import ObjectStore
from memora_cdn.store.local import FileStore
from memora_cdn.store.marker import adopt
from memora_cdn.sync.intake import Intake
from memora_cdn.sync.processor import BatchProcessor

if TYPE_CHECKING:  # boto3, httpx and rq are imported only by the settings that use them
    from memora_cdn.sync.rq_jobs import PlanLock

_PARENT_POOLS: list[object] = []
"""In a build process: the connection pools it inherited, never used or closed there."""
BUILD_PROCESSES = min(2, os.cpu_count() or 1)
"""Plans one `sync` builds at a time, each in a process of its own, when several are due."""


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
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as error:
        reason = (
            f"no driver installed for it ({error})"
            if isinstance(error, ImportError)
            else f"not a usable database URL ({error})"
        )
        raise SettingError(setting, safe_url(url), reason) from None


_PASSWORD = re.compile(r"^(?P<scheme>[^:/]+://[^:@/]*):[^@/]*@")


def safe_url(url: str) -> str:
    """The URL as it may be shown: any password replaced by `***` (even in a URL that
    does not parse)."""
    return _PASSWORD.sub(r"\g<scheme>:***@", url)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):  # a URI filename (`?uri=true`)
        if "mode=memory" in database:
            return None
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database)


# Driver error numbers and SQLSTATEs (MariaDB/MySQL: pymysql `args[0]`; PostgreSQL: psycopg
# `sqlstate`), sorted into what the user has to do about them.
_LOGIN_REFUSED: set[object] = {1045, 1698, "28P01", "28000"}
_DENIED: set[object] = {1044, 1142, 1143, 1227, "42501"}
_NO_DATABASE: set[object] = {1049, "3D000"}


def database_error(
    error: DBAPIError, setting: str, url: str, *, creating: bool = False
) -> Exception:
    """The typed error for a driver error on the database of `setting`: wrong password or
    user, access denied (when `creating` the state tables: the fix is state_database_url),
    a database that does not exist, or one that cannot be reached."""
    orig = error.orig
    args = getattr(orig, "args", ())
    # pymysql errors carry both an error number (`args[0]`) and a SQLSTATE.
    codes = {getattr(orig, "sqlstate", None), args[0] if args else None}
    text = " ".join(str(orig).split()) or type(orig).__name__
    shown = safe_url(url)
    if codes & _LOGIN_REFUSED or "password authentication failed" in text:
        return DatabaseLoginError(setting, shown, text)
    denied = bool(codes & _DENIED) or "readonly database" in text or "permission denied" in text
    if denied and creating:
        return StateTablesDeniedError(setting, shown, text)
    if denied:
        return DatabaseDeniedError(setting, shown, text)
    if codes & _NO_DATABASE:
        return DatabaseNotFoundError(setting, shown)
    if isinstance(error, OperationalError):
        return UnavailableError(f"the database at {shown} ({setting})", text)
    return error


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _secrets(settings: Settings) -> list[str]:
    values = (settings.s3_access_key, settings.s3_secret_key, settings.cloudflare_api_token)
    return [v.get_secret_value() for v in values if v is not None]


def make_store(settings: Settings, closers: list[Callable[[], object]]) -> tuple[ObjectStore, str]:
    """The object store, and the prefix its keys carry (purged URLs include it)."""
    if settings.store.startswith("file://"):
        return FileStore(settings.store_path), ""
    from memora_cdn.store.s3 import S3Store, parse_store_url, s3_client

    bucket, prefix = parse_store_url(settings.store)
    client = s3_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
        settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
        max_pool_connections=max(settings.upload_concurrency, 10),
    )
    closers.append(client.close)
    store = S3Store(
        client, bucket, prefix, redact=_secrets(settings), endpoint_url=settings.s3_endpoint_url
    )
    return store, prefix


def make_purger(settings: Settings, closers: list[Callable[[], object]]) -> Purger:
    if not (settings.cloudflare_zone_id and settings.cloudflare_api_token):
        return NoPurger()
    assert settings.cdn_base_url is not None  # checked by Settings
    from memora_cdn.purge.cloudflare import CloudflarePurger, cloudflare_client

    client = cloudflare_client()
    closers.append(client.close)
    return CloudflarePurger(
        zone_id=settings.cloudflare_zone_id,
        api_token=settings.cloudflare_api_token,
        cdn_base_url=settings.cdn_base_url,
        client=client,
        api_base=settings.cloudflare_api_base,
    )


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
            policy=RetryPolicy(self.settings.max_retries, self.settings.retry_base_seconds),
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
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    def prepare(self) -> None:
        """Create the state tables, or upgrade those of an earlier release in place; a store
        that release 0.1.0 published to (unmarked then) is marked, as its index was kept."""
        self.state.create_schema(
            store=self.store.identity, now=self.now(), adopt=lambda: adopt(self.store)
        )

    def housekeeping(self, interval_seconds: float) -> list[str]:
        """The worker's chores every tick: drain the SQL fallback into Redis once it answers
        again, and queue plans whose signed media URLs expire before the next batches could
        replace them. Returns the plans queued for expiring URLs."""
        now = self.now()
        recover = getattr(self.queue, "recover", None)
        if recover is not None:
            for plan in recover(now):
                self.state.log_queued(plan, Trigger.FALLBACK_RECOVERY, now, is_fallback=True)
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

    def close(self) -> None:
        for close in self.closers:
            close()
        self.source.engine.dispose()
        self.state.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def build_app(settings: Settings, clock: Clock = time.time) -> App:
    source_engine = make_engine(settings.database_url)
    state_engine = (
        source_engine
        if settings.state_url == settings.database_url
        else make_engine(settings.state_url, "state_database_url")
    )
    source = SqlSource(source_engine)
    state = StateStore(state_engine)
    closers: list[Callable[[], object]] = []
    store, prefix = make_store(settings, closers)
    options = PublishOptions(
        render=RenderOptions(
            shard_threshold=settings.shard_threshold,
            shard_max_bytes=settings.shard_max_bytes,
            sign=make_config_signer(settings),
            media_keys=settings.signed_keys,
        ),
        store_prefix=prefix,
        upload_concurrency=settings.upload_concurrency,
        manifest_cache_seconds=settings.manifest_cache_seconds,
        document_cache_seconds=settings.document_cache_seconds,
    )
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
        _connect(app.source.engine, "database_url", settings.database_url)
        try:
            app.prepare()
        except DBAPIError as error:
            raise database_error(
                error, "state_database_url", settings.state_url, creating=True
            ) from None
        yield app
    finally:
        app.close()


def _connect(engine: Engine, setting: str, url: str) -> None:
    """Open (and return to the pool) one connection, so that a wrong password, a denied
    database or an unreachable server is reported against the setting that names it."""
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        raise database_error(error, setting, url) from None


_process_app: App | None = None
_process_app_lock = threading.Lock()


def process_app() -> App:
    """One app per process for entry points that Frappe or RQ call as plain functions (the
    doc_events hook, RQ jobs): built once from `MEMORA_CDN_*` and the TOML file named by
    `MEMORA_CDN_CONFIG`, with its state tables created if missing."""
    global _process_app
    with _process_app_lock:
        if _process_app is None:
            config = os.environ.get("MEMORA_CDN_CONFIG")
            application = build_app(load_settings(Path(config) if config else None))
            application.prepare()
            _process_app = application
        return _process_app
