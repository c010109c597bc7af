"""Upgrading the state tables of the previous release in place (state/migrate.py), on SQLite,
MariaDB and PostgreSQL: nothing published is forgotten, and a re-run uploads nothing."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from catalogue import CatalogueBuilder, create_content_schema
from defaults import default_publish_options
from memora_cdn.app import running
from memora_cdn.core.documents import Published
from memora_cdn.errors import SettingError, StoreError
from memora_cdn.publish import Publisher
from memora_cdn.settings import Settings
from memora_cdn.source.sql import SqlSource
from memora_cdn.state import migrate
from memora_cdn.state.repo import StateRepository
from memora_cdn.state.schema import published_object, schema_version
from memora_cdn.store.base import MARKER
from memora_cdn.store.local import FileStore

# -- the state tables exactly as release 0.1.0 creates them (frozen: never edit) ------------

_KEY: TypeEngine[Any] = String(1024).with_variant(
    mysql.VARCHAR(1024, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
)
_NAME: TypeEngine[Any] = String(140).with_variant(
    mysql.VARCHAR(140, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
_TEXT: TypeEngine[Any] = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def _when() -> TypeEngine[Any]:
    return DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


RELEASE_0_1_0 = MetaData()
Table(
    "cdn_sync_log",
    RELEASE_0_1_0,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("plan_id", _NAME, nullable=False),
    Column("status", String(20), nullable=False),
    Column("triggered_by", String(32), nullable=False),
    Column("started_at", _when(), nullable=False),
    Column("completed_at", _when(), nullable=True),
    Column("files_uploaded", Integer(), nullable=False, server_default="0"),
    Column("files_deleted", Integer(), nullable=False, server_default="0"),
    Column("files_unchanged", Integer(), nullable=False, server_default="0"),
    Column("bytes_uploaded", BigInteger(), nullable=False, server_default="0"),
    Column("purge_requests", Integer(), nullable=False, server_default="0"),
    Column("retry_count", Integer(), nullable=False, server_default="0"),
    Column("is_fallback", Boolean(), nullable=False, server_default="0"),
    Column("error_message", _TEXT, nullable=True),
    Column("warnings", _TEXT, nullable=True),
    Index("ix_cdn_sync_log_plan", "plan_id"),
    Index("ix_cdn_sync_log_status_started", "status", "started_at"),
)
Table(
    "cdn_published_object",
    RELEASE_0_1_0,
    Column("plan_id", _NAME, primary_key=True),
    Column("key", _KEY, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    Column("published_at", _when(), nullable=False),
    Column("expires_at", BigInteger(), nullable=True),
    Index("ix_cdn_published_object_expires", "expires_at"),
)
Table(
    "cdn_purge_pending",
    RELEASE_0_1_0,
    Column("plan_id", _NAME, primary_key=True),
    Column("key", _KEY, primary_key=True),
    Column("queued_at", _when(), nullable=False),
)
Table(
    "cdn_plan_member",
    RELEASE_0_1_0,
    Column("plan_id", _NAME, primary_key=True),
    Column("doctype", String(140), primary_key=True),
    Column("name", _NAME, primary_key=True),
    Index("ix_cdn_plan_member_doc", "doctype", "name"),
)
Table(
    "cdn_export_queue",
    RELEASE_0_1_0,
    Column("plan_id", _NAME, primary_key=True),
    Column("state", String(16), nullable=False),
    Column("enqueued_at", _when(), nullable=False),
    Column("due_at", _when(), nullable=False),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("token", String(64), nullable=True),
    Column("claimed_by", String(200), nullable=True),
    Column("lease_until", _when(), nullable=True),
    Column("dirty", Boolean(), nullable=False, server_default="0"),
    Column("is_fallback", Boolean(), nullable=False, server_default="0"),
    Column("last_error", _TEXT, nullable=True),
    Column("failed_at", _when(), nullable=True),
    Index("ix_cdn_export_queue_state_due", "state", "due_at"),
)
Table(
    "cdn_scan_state",
    RELEASE_0_1_0,
    Column("scope", String(140), primary_key=True),
    Column("watermark", _when(), nullable=True),
    Column("seen_names", _TEXT, nullable=True),
    Column("updated_at", _when(), nullable=False),
)

# -------------------------------------------------------------------------------------------

PLANS = ("P1", "Plan 2/ب")
AT = datetime(2026, 11, 30, 12, 0, 0)


def catalogue(engine: sa.Engine) -> None:
    create_content_schema(engine)
    build = CatalogueBuilder(engine)
    for plan in PLANS:
        build.plan(plan, subjects=["MATH"])
    build.subject("MATH", title="Mathematics", is_public=True)
    build.track("T1", "MATH")
    build.unit("U1", "T1")
    build.topic("TP1", "U1")
    for n in (1, 2, 3):
        build.lesson(f"L{n}", "TP1", title=f"Lesson {n}", sort_order=n)
        build.stage(f"L{n}", name=f"L{n}-S1", type="Text", config={"body": "…"})
    build.insert()


def publish_as_release_0_1_0(engine: sa.Engine, root: Path, scratch: Path) -> None:
    """Fill the frozen tables and the store as release 0.1.0 left them: the same files and
    index rows (without `store`), no store marker, and a row in every other table."""
    scratch_engine = sa.create_engine(f"sqlite:///{scratch}")
    state = StateRepository(scratch_engine)
    state.create_schema()
    store = FileStore(root)
    ticks = itertools.count(1_790_000_000, 60)
    publisher = Publisher(
        SqlSource(engine), state, store, default_publish_options(), clock=lambda: float(next(ticks))
    )
    for plan in PLANS:
        publisher.publish(plan)
    store.delete([MARKER])
    tables = RELEASE_0_1_0.tables
    published = [
        {k: v for k, v in r.items() if k != "store"}
        for r in rows(scratch_engine, "cdn_published_object")
    ]
    members = rows(scratch_engine, "cdn_plan_member")
    scratch_engine.dispose()
    RELEASE_0_1_0.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(tables["cdn_published_object"]), published)
        conn.execute(sa.insert(tables["cdn_plan_member"]), members)
        conn.execute(
            sa.insert(tables["cdn_sync_log"]),
            [{"plan_id": "P1", "status": "Success", "triggered_by": "Manual", "started_at": AT}],
        )
        conn.execute(
            sa.insert(tables["cdn_purge_pending"]),
            [{"plan_id": "P1", "key": "plans/P1/manifest.json", "queued_at": AT}],
        )
        conn.execute(
            sa.insert(tables["cdn_export_queue"]),
            [{"plan_id": "P1", "state": "pending", "enqueued_at": AT, "due_at": AT}],
        )
        conn.execute(
            sa.insert(tables["cdn_scan_state"]),
            [{"scope": "content", "watermark": AT, "updated_at": AT}],
        )


def rows(engine: sa.Engine, table: str) -> list[dict[str, Any]]:
    reflected = sa.Table(table, sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        found = conn.execute(sa.select(reflected)).mappings()
        return sorted((dict(row) for row in found), key=repr)


@pytest.mark.slow
def test_state_tables_of_the_previous_release_are_upgraded_in_place(
    engine: sa.Engine, db_url: str, tmp_path: Path, no_settings_env: None
) -> None:
    catalogue(engine)
    root = tmp_path / "cdn"
    publish_as_release_0_1_0(engine, root, tmp_path / "scratch.db")
    legacy = {name: rows(engine, name) for name in RELEASE_0_1_0.tables}
    files = sorted(FileStore(root).list_keys())
    settings = Settings(database_url=db_url, store=f"file://{root}")

    with running(settings) as app:  # the new code, on first use
        identity = app.store.identity
        indexed = [
            {
                "plan_id": plan,
                "key": key,
                "sha256": e.sha256,
                "size": e.size,
                "version": e.version,
                "expires_at": e.expires_at,
            }
            for plan in PLANS
            for key, e in app.state.published(identity, plan).items()
        ]
        kept = {name: rows(engine, name) for name in RELEASE_0_1_0.tables}
        results = [app.publisher.publish(plan) for plan in PLANS]

    before = [{k: r[k] for k in indexed[0]} for r in legacy["cdn_published_object"]]
    assert sorted(indexed, key=repr) == sorted(before, key=repr)
    assert [r.counts.files_uploaded for r in results] == [0, 0]
    assert [r.counts.files_deleted for r in results] == [0, 0]
    assert sorted(FileStore(root).list_keys()) == files
    assert FileStore(root).get(MARKER) is not None  # adopted: its index was kept
    upgraded = rows(engine, "cdn_published_object")
    assert {r["store"] for r in upgraded} == {identity}
    for name in RELEASE_0_1_0.tables:
        if name != "cdn_published_object":
            legacy_columns = RELEASE_0_1_0.tables[name].columns.keys()
            assert [{k: r[k] for k in legacy_columns} for r in kept[name]] == legacy[name], name
    # Version 4: the sync log's rows gained purge_failures, 0 for the builds before it.
    assert {r["purge_failures"] for r in kept["cdn_sync_log"]} == {0}
    assert set(kept["cdn_sync_log"][0]) == set(legacy["cdn_sync_log"][0]) | {"purge_failures"}
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema_version.c.version)).scalars().all() == [1, 2, 3, 4, 5]

    with running(settings) as app:  # a re-run: already upgraded, nothing to upload
        assert app.state.create_schema(store=identity) == migrate.LATEST
        assert [app.publisher.publish(p).counts.files_uploaded for p in PLANS] == [0, 0]
    assert rows(engine, "cdn_published_object") == sorted(upgraded, key=repr)


def legacy_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "plan_id": "P1",
            "key": f"plans/P1/lessons/L{n}.json",
            "sha256": f"{n:064x}",
            "size": n,
            "version": 1_790_000_000,
            "published_at": AT,
            "expires_at": None,
        }
        for n in range(count)
    ]


def index_of(state: StateRepository, store: str) -> dict[str, Any]:
    return {key: (e.sha256, e.size) for key, e in state.published(store, "P1").items()}


def test_an_upgrade_interrupted_part_way_resumes_without_losing_a_row(engine: sa.Engine) -> None:
    """A crash (MariaDB commits each DDL statement) after the old table was emptied into the
    holding table and the new table was half filled: the next start finishes the job."""
    RELEASE_0_1_0.create_all(engine)
    old = RELEASE_0_1_0.tables["cdn_published_object"]
    holding = Table("cdn_published_object_v1", MetaData(), *(c._copy() for c in old.columns))
    holding.create(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(holding), legacy_rows(5))
    old.drop(engine)
    state = StateRepository(engine)
    with engine.begin() as conn:  # the new table, with one row copied before the crash
        published_object.create(conn)
        conn.execute(sa.insert(published_object), [{"store": "s", **legacy_rows(1)[0]}])

    assert state.create_schema(store="file:///cdn") == migrate.BASELINE

    assert index_of(state, "file:///cdn") == {
        r["key"]: (r["sha256"], r["size"]) for r in legacy_rows(5)
    }
    assert index_of(state, "s") == {}
    assert not sa.inspect(engine).has_table("cdn_published_object_v1")


def test_upgrading_an_index_with_no_store_to_give_it_is_an_error_that_keeps_the_rows(
    engine: sa.Engine,
) -> None:
    RELEASE_0_1_0.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(RELEASE_0_1_0.tables["cdn_published_object"]), legacy_rows(3))
    with pytest.raises(SettingError) as caught:
        StateRepository(engine).create_schema()
    assert str(caught.value) == (
        "missing setting store: needed to upgrade the published index of release 0.1.0"
    )
    assert len(rows(engine, "cdn_published_object")) == 3
    assert StateRepository(engine).create_schema(store="file:///cdn") == migrate.BASELINE
    assert len(index_of(StateRepository(engine), "file:///cdn")) == 3


def test_processes_starting_at_once_upgrade_once_and_keep_every_row(db_url: str) -> None:
    setup = sa.create_engine(db_url)
    RELEASE_0_1_0.create_all(setup)
    with setup.begin() as conn:
        conn.execute(sa.insert(RELEASE_0_1_0.tables["cdn_published_object"]), legacy_rows(50))
    setup.dispose()
    engines = [sa.create_engine(db_url, connect_args=_patient(db_url)) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def boot(engine: sa.Engine) -> int:
        start.wait()
        return StateRepository(engine).create_schema(store="file:///cdn")

    try:
        with ThreadPoolExecutor(max_workers=len(engines)) as pool:
            found = sorted(pool.map(boot, engines))
        assert found.count(migrate.BASELINE) == 1  # one upgraded; the others found it done
        assert len(index_of(StateRepository(engines[0]), "file:///cdn")) == 50
    finally:
        for engine in engines:
            engine.dispose()


def _patient(db_url: str) -> dict[str, Any]:
    return {"timeout": 30} if db_url.startswith("sqlite") else {}


def test_the_index_of_one_store_says_nothing_about_another(engine: sa.Engine) -> None:
    state = StateRepository(engine)
    state.create_schema()
    entry = Published("a" * 64, 1, 10)
    state.record_uploads("file:///old", "P1", [("plans/P1/manifest.json", entry)], AT)
    state.record_uploads("s3://bucket/cdn", "P1", [("plans/P1/manifest.json", entry)], AT)

    assert state.published("file:///new", "P1") == {}
    assert state.publications("file:///new") == []
    assert state.indexed_files("file:///new") == 0
    state.forget_plan("file:///old", "P1")
    assert state.published("file:///old", "P1") == {}
    assert state.published("s3://bucket/cdn", "P1") == {"plans/P1/manifest.json": entry}


def test_an_upgrade_whose_store_cannot_be_marked_is_redone_on_the_next_start(
    engine: sa.Engine,
) -> None:
    RELEASE_0_1_0.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(RELEASE_0_1_0.tables["cdn_published_object"]), legacy_rows(3))
    state = StateRepository(engine)
    marked: list[str] = []

    def unreachable() -> None:
        raise StoreError(MARKER, "EndpointConnectionError: could not connect")

    with pytest.raises(StoreError):
        state.create_schema(store="s3://bucket/cdn", adopt=unreachable)
    assert state.create_schema(store="s3://bucket/cdn", adopt=lambda: marked.append("x")) == 1
    assert marked == ["x"]
    assert len(index_of(state, "s3://bucket/cdn")) == 3
    assert (
        state.create_schema(store="s3://bucket/cdn", adopt=lambda: marked.append("y"))
        == migrate.LATEST
    )
    assert marked == ["x"]


def test_a_store_identity_too_long_for_the_index_is_a_setting_error(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    identity = "file:///" + "x" * 300
    with pytest.raises(SettingError) as caught:
        StateRepository(engine).create_schema(store=identity)
    assert str(caught.value) == (
        f"invalid setting store={identity}: its identity is longer than 255 characters:"
        " use a shorter path or prefix"
    )
    engine.dispose()
