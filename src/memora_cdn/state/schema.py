"""The state tables that `memora-cdn init` creates (SPEC §6)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Insert,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.types import TypeEngine

NAME = 140
STORE = 255
"""The longest store identity the index takes (with plan_id and key, within MariaDB's
3,072-byte key limit)."""
# Store keys are percent-encoded, hence ASCII; a binary collation keeps `A.json` and
# `a.json` apart and lets MariaDB index the full length.
_KEY: TypeEngine[Any] = String(1024).with_variant(
    mysql.VARCHAR(1024, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
)
_NAME: TypeEngine[Any] = String(NAME).with_variant(
    mysql.VARCHAR(NAME, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
_STORE: TypeEngine[Any] = String(STORE).with_variant(
    mysql.VARCHAR(STORE, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
_TEXT: TypeEngine[Any] = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def _when() -> TypeEngine[Any]:
    return DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


metadata = MetaData()

sync_log = Table(
    "cdn_sync_log",
    metadata,
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
    # Purge calls that failed for good (after retries); their URLs wait in cdn_purge_pending.
    Column("purge_failures", Integer(), nullable=False, server_default="0"),
    Column("retry_count", Integer(), nullable=False, server_default="0"),
    Column("is_fallback", Boolean(), nullable=False, server_default="0"),
    Column("error_message", _TEXT, nullable=True),
    Column("warnings", _TEXT, nullable=True),
    Index("ix_cdn_sync_log_plan", "plan_id"),
    Index("ix_cdn_sync_log_status_started", "status", "started_at"),
)

published_object = Table(
    "cdn_published_object",
    metadata,
    # The store's identity (`ObjectStore.identity`): the index belongs to one store.
    Column("store", _STORE, primary_key=True),
    Column("plan_id", _NAME, primary_key=True),
    Column("key", _KEY, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    Column("published_at", _when(), nullable=False),
    # Lessons with signed media: when the first signed URL in the file expires (Unix s).
    Column("expires_at", BigInteger(), nullable=True),
    Index("ix_cdn_published_object_expires", "expires_at"),
)

validated_plan = Table(
    "cdn_validated_plan",
    metadata,
    Column("store", _STORE, primary_key=True),
    Column("plan_id", _NAME, primary_key=True),
    Column("schema_digest", String(64), nullable=False),
    Column("validated_at", _when(), nullable=False),
)
"""Per store and plan: the digest of the JSON Schemas that every document the index holds
for the plan was validated against (`contracts.schemas.schemas_digest`). While it is the
current digest, a build validates only the documents whose content changed."""

purge_pending = Table(
    "cdn_purge_pending",
    metadata,
    Column("plan_id", _NAME, primary_key=True),
    Column("key", _KEY, primary_key=True),
    Column("queued_at", _when(), nullable=False),
)

plan_member = Table(
    "cdn_plan_member",
    metadata,
    Column("plan_id", _NAME, primary_key=True),
    Column("doctype", String(NAME), primary_key=True),
    Column("name", _NAME, primary_key=True),
    Index("ix_cdn_plan_member_doc", "doctype", "name"),
)

export_queue = Table(
    "cdn_export_queue",
    metadata,
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

scan_state = Table(
    "cdn_scan_state",
    metadata,
    Column("scope", String(NAME), primary_key=True),
    Column("watermark", _when(), nullable=True),
    Column("seen_names", _TEXT, nullable=True),
    Column("updated_at", _when(), nullable=False),
)

webhook_event = Table(
    "cdn_webhook_event",
    metadata,
    Column("outcome", String(40), primary_key=True),
    Column("count", BigInteger(), nullable=False),
)
"""Webhook calls by outcome (`accepted`, `ignored`, or why one was rejected), counted for
`/metrics` in the state database so that every `serve` process reports the same numbers."""


schema_version = Table(
    "cdn_schema_version",
    metadata,
    Column("version", Integer(), primary_key=True, autoincrement=False),
    Column("applied_at", _when(), nullable=False),
)
"""One row per migration step applied (see `state/migrate.py`)."""


@functools.cache
def upsert(dialect: str, table: Table, updated: tuple[str, ...]) -> Insert:
    """An INSERT that updates `updated` columns when the primary key exists: one statement,
    so concurrent writers never race between an UPDATE that found nothing and an INSERT.
    Built once per dialect and table (building it costs more than running it on a row)."""
    if dialect in ("mysql", "mariadb"):
        statement: Any = mysql.insert(table)
        return statement.on_duplicate_key_update(  # type: ignore[no-any-return]
            {name: statement.inserted[name] for name in updated}
        )
    module: Any = sqlite if dialect == "sqlite" else postgresql
    statement = module.insert(table)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(table.primary_key.columns),
        set_={name: statement.excluded[name] for name in updated},
    )
