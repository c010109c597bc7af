"""Shared fixtures: the real services (found running), and an empty database per test.

Services are found at `MEMORA_CDN_TEST_MARIADB_URL`, `MEMORA_CDN_TEST_POSTGRES_URL` and
`MEMORA_CDN_TEST_REDIS_URL`, or at the local defaults below. Each is probed once per session
(3 s connect timeout); a test needing one that is down is skipped, or fails when
`MEMORA_CDN_REQUIRE_SERVICES=1` (CI, where every backend must really run).

Every test using `db_url` gets a database of its own: a file in `tmp_path` for SQLite, and a
fresh `memora_test_<pid>_<random>_<n>` database on MariaDB and PostgreSQL (creating and
dropping one takes a few tens of milliseconds), dropped when the test ends. `db_url` runs a
test once per backend, with the ids `sqlite`, `mariadb` and `postgres` and the markers of the
same names, so `-m "not mariadb and not postgres"` keeps to SQLite.

Under pytest-xdist (`python3 dev.py test` runs `-n auto`) the names above already differ per
worker process; Redis gives each worker a database of its own (see `redis_url`), and tests
keep their keys under a `redis_prefix` of their own.

Fixtures: `db_url`, `engine`, `content_engine` (with the SPEC §1 content tables),
`mariadb_admin`, `postgres_admin`, `redis_url`, `redis_prefix`, `statement_counter`. Helpers:
`service_unavailable(name, reason)`, `count_statements(engine)` (from `catalogue`, with
`CatalogueBuilder` and `build_catalogue`).
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson
import pytest
import redis
import sqlalchemy as sa

from catalogue import count_statements, create_content_schema
from clirun import invoke
from memora_cdn.database import make_engine
from memora_cdn.queue.redis_keys import RedisKeys
from memora_cdn.settings import load_settings
from memora_cdn.state.schema import published_object, validated_plan
from memora_cdn.store.base import JSON_CONTENT_TYPE, MARKER
from memora_cdn.store.local import FileStore
from services import (
    CONNECT_TIMEOUT_SECONDS,
    SERVICES,
    Service,
    service_unavailable,
)

__all__ = ["SERVICES", "count_statements", "service_unavailable"]

# Fixtures of the fake and private servers: private_redis; s3_server, s3_proxy, s3_bucket,
# s3_direct; cloudflare.
pytest_plugins = ["fakes.redisserver", "fakes.s3server", "fakes.cloudflare"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` run first (in their collected order): under pytest-xdist the long
    ones then overlap the many short ones instead of leaving one worker busy at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _reason(error: BaseException) -> str:
    error = getattr(error, "orig", None) or error  # the driver's error, not SQLAlchemy's wrapper
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:300]


# -- SQL servers ------------------------------------------------------------------------

_UNKNOWN_THREAD = 1094
_CLOSING_GRACE_SECONDS = 2.0


@dataclass
class _SqlServer:
    """A reachable server where tests may create and drop databases."""

    service: Service
    admin: sa.Engine
    prefix: str
    counter: itertools.count[int]
    created: set[str]

    def create_database(self) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        quoted = self.admin.dialect.identifier_preparer.quote(name)
        suffix = (
            " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            if self.admin.dialect.name == "mysql"
            else ""
        )
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}{suffix}")
        self.created.add(name)
        return name

    def drop_database(self, name: str) -> None:
        quoted = self.admin.dialect.identifier_preparer.quote(name)
        with self.admin.connect() as conn:
            if self.admin.dialect.name == "mysql":
                # Connections still open would hold metadata locks: end them first.
                for thread in self._connections_to(conn, name):
                    try:
                        conn.exec_driver_sql(f"KILL {thread}")
                    except sa.exc.OperationalError as error:
                        # 1094 "Unknown thread id": it ended between the query and the KILL.
                        if error.orig.args[0] != _UNKNOWN_THREAD:  # type: ignore[union-attr]
                            raise
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        self.created.discard(name)

    @staticmethod
    def _connections_to(conn: sa.Connection, database: str) -> list[int]:
        """Connections on `database` that outlive a grace period: a connection a test has
        just closed is still listed until the server has processed its QUIT."""
        query = sa.text(
            "SELECT id FROM information_schema.processlist WHERE db = :db AND id <> CONNECTION_ID()"
        ).columns(id=sa.Integer)
        deadline = time.monotonic() + _CLOSING_GRACE_SECONDS
        while True:
            threads = [int(thread) for thread in conn.execute(query, {"db": database}).scalars()]
            if not threads or time.monotonic() >= deadline:
                return threads
            time.sleep(0.05)

    def url_for(self, database: str) -> str:
        url = sa.make_url(self.service.url).set(database=database)
        if url.get_backend_name() == "mysql" and "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url.render_as_string(hide_password=False)


def _sql_server(name: str) -> Iterator[_SqlServer]:
    service = SERVICES[name]
    try:
        url = sa.make_url(service.url)
        mysql = url.get_backend_name() == "mysql"
        # The probe also bounds reads: a server that accepts but never answers is down.
        probe_args: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if mysql:
            probe_args |= {"read_timeout": CONNECT_TIMEOUT_SECONDS}
        probe = sa.create_engine(url, poolclass=sa.NullPool, connect_args=probe_args)
    except Exception as error:  # a malformed URL or a missing driver
        service_unavailable(name, _reason(error))
    try:
        with probe.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as error:
        service_unavailable(name, _reason(error))
    finally:
        probe.dispose()
    admin = sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    if mysql:

        @sa.event.listens_for(admin, "connect")
        def bounded_lock_waits(dbapi_connection: Any, record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION lock_wait_timeout = 30")

    server = _SqlServer(
        service=service,
        admin=admin,
        prefix=f"memora_test_{os.getpid()}_{secrets.token_hex(3)}",
        counter=itertools.count(1),
        created=set(),
    )
    try:
        yield server
    finally:
        for database in sorted(server.created):
            server.drop_database(database)
        admin.dispose()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[_SqlServer]:
    yield from _sql_server("MariaDB")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_SqlServer]:
    yield from _sql_server("PostgreSQL")


@pytest.fixture(scope="session")
def mariadb_admin(mariadb_server: _SqlServer) -> sa.Engine:
    """An AUTOCOMMIT engine on the configured MariaDB database (skips when it is down)."""
    return mariadb_server.admin


@pytest.fixture(scope="session")
def postgres_admin(postgres_server: _SqlServer) -> sa.Engine:
    """An AUTOCOMMIT engine on the configured PostgreSQL database (skips when it is down)."""
    return postgres_server.admin


# -- Redis ------------------------------------------------------------------------------


def _redis_command(sock: socket.socket, *args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    sock.sendall(payload.encode())
    reply = sock.recv(1024)
    if not reply.startswith((b"+", b":", b"$")):
        raise ConnectionError(reply.decode(errors="replace").strip())
    return reply


def worker_number() -> int:
    """This pytest-xdist worker's number (`gw3` → 3); 0 in a run without workers."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The Redis URL, after a PING answered with PONG (skips when it is down).

    Each xdist worker gets a database of its own: the configured one plus the worker's number
    (gw0 and a run without workers use the configured one). At the end of the session the
    worker deletes whatever its tests left under its `redis_prefix` keys, and nothing else.
    """
    service = SERVICES["Redis"]
    parts = urlsplit(service.url)
    database = int(parts.path.strip("/") or 0) + worker_number()
    url = urlunsplit(parts._replace(path=f"/{database}"))
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=CONNECT_TIMEOUT_SECONDS
        ) as sock:
            if parts.password is not None:
                user = [unquote(parts.username)] if parts.username else []
                _redis_command(sock, "AUTH", *user, unquote(parts.password))
            if not _redis_command(sock, "PING").startswith(b"+PONG"):
                raise ConnectionError("no PONG in reply to PING")
            # Fails for a worker whose number runs past the server's last database.
            _redis_command(sock, "SELECT", str(database))
    except (OSError, ValueError) as error:
        service_unavailable("Redis", _reason(error))
    yield url
    _delete_redis_keys(url, RedisKeys(_REDIS_RUN_PREFIX))


_REDIS_RUN_PREFIX = f"memora-cdn-test:{os.getpid()}-{secrets.token_hex(3)}:"
"""Where this process's tests keep their Redis keys (a crashed run's are easy to find)."""


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own, on `redis_url`; its keys are deleted afterwards."""
    keys = RedisKeys(f"{_REDIS_RUN_PREFIX}{secrets.token_hex(6)}:")
    yield keys.prefix
    _delete_redis_keys(redis_url, keys)


def _delete_redis_keys(url: str, keys: RedisKeys) -> None:
    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        leftover = list(client.scan_iter(match=keys.pattern, count=1000))
        if leftover:
            client.delete(*leftover)
    finally:
        client.close()


# -- per-test databases -----------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of this test's own, on each backend in turn."""
    backend: str = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'content.db'}"
        return
    server: _SqlServer = request.getfixturevalue(f"{backend}_server")
    database = server.create_database()
    try:
        yield server.url_for(database)
    finally:
        server.drop_database(database)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """An engine on the test's empty database, disposed afterwards."""
    engine = sa.create_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def content_engine(engine: sa.Engine) -> sa.Engine:
    """`engine`, with every content table of SPEC §1 created (and empty)."""
    create_content_schema(engine)
    return engine


@pytest.fixture
def statement_counter() -> Callable[[sa.Engine], AbstractContextManager[list[str]]]:
    """`count_statements`, as a fixture: `with statement_counter(engine) as statements:`."""
    return count_statements


@pytest.fixture
def no_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `MEMORA_CDN_*` setting from the environment reaches the test (the test-only
    `MEMORA_CDN_TEST_*` and `MEMORA_CDN_REQUIRE_SERVICES` stay)."""
    _drop_settings_env(monkeypatch)


def _drop_settings_env(patch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MEMORA_CDN_") and not name.startswith(
            ("MEMORA_CDN_TEST_", "MEMORA_CDN_REQUIRE")
        ):
            patch.delenv(name)


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, seeded and published once per test process (`demo` copies it)."""
    folder = tmp_path_factory.mktemp("published-demo")
    with pytest.MonkeyPatch.context() as patch:
        _drop_settings_env(patch)
        patch.chdir(folder)
        assert invoke("demo")[0] == 0
    return folder


@pytest.fixture
def demo(
    published_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None
) -> Path:
    """The published demo in this test's folder: a copy of `published_demo` whose index names
    this folder's store, just as `memora-cdn demo` run here would have left it."""
    shutil.copytree(published_demo, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    store = FileStore(settings.store_path)
    template = FileStore(published_demo / store.root.relative_to(tmp_path.resolve())).identity
    engine = make_engine(settings.state_url)
    try:
        with engine.begin() as conn:
            for table in (published_object, validated_plan):
                conn.execute(
                    sa.update(table).where(table.c.store == template).values(store=store.identity)
                )
    finally:
        engine.dispose()
    body = orjson.loads(store.get(MARKER) or b"{}")
    store.put(
        MARKER,
        orjson.dumps({**body, "identity": store.identity}),
        content_type=JSON_CONTENT_TYPE,
        cache_control="no-cache",
    )
    return tmp_path
