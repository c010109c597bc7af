"""Versioned in-place upgrades of the state tables: ordered steps, each applied once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    delete,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.schema import CreateColumn, CreateTable

from memora_cdn.errors import SettingError, UnavailableError
from memora_cdn.state.schema import metadata, published_object, schema_version, sync_log

BASELINE = 1
"""The tables of release 0.1.0, which had no `cdn_schema_version`."""
LATEST = 5
STORE_MARKERS = 2
"""The version from which the index is keyed by store and stores carry a marker: a store
published to by an earlier version is marked when its index is upgraded."""

LOCK_WAIT_SECONDS = 300
_LOCK_NAME = "memora-cdn-schema-upgrade"
_PG_LOCK_KEY = 0x6D656D6F7261  # "memora": one advisory lock for every upgrade
_HOLDING = "cdn_published_object_v1"
"""Where the index rows of release 0.1.0 wait while their table is rebuilt with `store`."""

Step = Callable[[Connection, str | None], None]


def upgrade(
    engine: Engine,
    store: str | None,
    now: datetime,
    adopt: Callable[[], None] | None = None,
) -> int:
    """Bring the state tables to `LATEST`, creating any that are missing; returns the version
    found. `store`: the identity of the configured store, where rows published before stores
    were recorded were published; `adopt`: marks that store, called when an index older than
    `STORE_MARKERS` was upgraded, before the upgrade is recorded (if it fails, the next start
    upgrades and adopts again). Safe to run from many processes at once (one upgrades, the
    others wait for it) and to re-run after a crash part way (each step resumes)."""
    with engine.connect() as conn:
        if inspect(conn).has_table(schema_version.name) and _version(conn) == LATEST:
            return LATEST
    with engine.connect() as conn, _locked(conn):
        found = _version(conn)
        if found is None:
            found = BASELINE if inspect(conn).has_table(published_object.name) else LATEST
        for version, step in _STEPS:
            if version > found:
                step(conn, store)
        metadata.create_all(conn)
        if found < STORE_MARKERS and adopt is not None:
            adopt()
        done = {row[0] for row in conn.execute(select(schema_version.c.version))}
        stamps = [
            {"version": version, "applied_at": now}
            for version in range(min(found, LATEST), LATEST + 1)
            if version not in done
        ]
        if stamps:
            conn.execute(insert(schema_version), stamps)
        conn.commit()
        return found


def _version(conn: Connection) -> int | None:
    value = conn.execute(select(func.max(schema_version.c.version))).scalar()
    return None if value is None else int(value)


@contextmanager
def _locked(conn: Connection) -> Iterator[None]:
    """Hold the upgrade lock on this connection (its transaction, where DDL is
    transactional: PostgreSQL and SQLite upgrade in one transaction), with
    `cdn_schema_version` created if missing."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))  # until commit
        conn.execute(CreateTable(schema_version, if_not_exists=True))
        yield
    elif dialect in ("mysql", "mariadb"):
        # DDL commits on MariaDB: a named lock, held by the session, spans the steps.
        if conn.execute(select(func.get_lock(_LOCK_NAME, LOCK_WAIT_SECONDS))).scalar() != 1:
            raise UnavailableError(
                "the state database", "another process held the schema upgrade lock too long"
            )
        try:
            conn.execute(CreateTable(schema_version, if_not_exists=True))
            yield
        finally:
            conn.execute(select(func.release_lock(_LOCK_NAME)))
    else:
        # SQLite: a first write takes the database's write lock until commit (the CREATE
        # before it runs on its own, and is atomic).
        conn.execute(CreateTable(schema_version, if_not_exists=True))
        conn.execute(delete(schema_version).where(schema_version.c.version < 0))
        yield


# -- steps ------------------------------------------------------------------------------------


def _index_keyed_by_store(conn: Connection, store: str | None) -> None:
    """2: `cdn_published_object` gains `store`, part of its key; existing rows get the
    configured store, where they were published. The rows wait in a holding table while the
    table is rebuilt (no dialect alters a primary key the same way), and every stage can be
    re-run: a crash leaves either the old table or the holding table with every row."""
    columns = [c.name for c in published_object.columns if c.name != "store"]
    holding = Table(
        _HOLDING,
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in published_object.columns
            if c.name != "store"
        ),
    )
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    old_shape = published_object.name in tables and "store" not in {
        column["name"] for column in inspector.get_columns(published_object.name)
    }
    old = Table(published_object.name, MetaData(), autoload_with=conn) if old_shape else None
    waiting = [table for table in (old, holding) if table is not None and table.name in tables]
    if store is None and any(
        conn.execute(select(func.count()).select_from(t)).scalar() for t in waiting
    ):
        raise SettingError("store", None, "needed to upgrade the published index of release 0.1.0")
    if old is not None:
        holding.create(conn, checkfirst=True)
        conn.execute(delete(holding))
        conn.execute(insert(holding).from_select(columns, select(*(old.c[c] for c in columns))))
        old.drop(conn)
        tables.add(_HOLDING)
    if _HOLDING not in tables:
        return
    published_object.create(conn, checkfirst=True)
    conn.execute(delete(published_object))  # what a crashed run copied: holding has it all
    stored = literal(store or "", published_object.c.store.type).label("store")
    conn.execute(
        insert(published_object).from_select(
            ["store", *columns], select(stored, *(holding.c[c] for c in columns))
        )
    )
    holding.drop(conn)


def _webhook_counts(conn: Connection, store: str | None) -> None:
    """Version 3 adds `cdn_webhook_event` (created with every missing table)."""


def _purge_failures(conn: Connection, store: str | None) -> None:
    """4: `cdn_sync_log` gains `purge_failures` (0 for the builds before it); skipped when
    the column is there (a re-run, or a table created by this release)."""
    if not inspect(conn).has_table(sync_log.name):
        return
    if "purge_failures" in {c["name"] for c in inspect(conn).get_columns(sync_log.name)}:
        return
    table = conn.dialect.identifier_preparer.format_table(sync_log)
    column = CreateColumn(sync_log.c.purge_failures).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column}"))


def _validated_plans(conn: Connection, store: str | None) -> None:
    """Version 5 adds `cdn_validated_plan` (created with every missing table): with no row,
    a plan's next build validates every document, as before."""


_STEPS: list[tuple[int, Step]] = [
    (2, _index_keyed_by_store),
    (3, _webhook_counts),
    (4, _purge_failures),
    (5, _validated_plans),
]
