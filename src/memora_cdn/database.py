"""Database URLs and engines: the engine for a URL, a URL safe to show, and typed errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from memora_cdn.errors import (
    DatabaseDeniedError,
    DatabaseLoginError,
    DatabaseNotFoundError,
    SettingError,
    StateTablesDeniedError,
    UnavailableError,
)

IN_CHUNK = 500
"""The most values one `IN (…)` list carries (a longer list is sent in several queries)."""


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


def check_connection(engine: Engine, setting: str, url: str) -> None:
    """Open (and return to the pool) one connection, so that a wrong password, a denied
    database or an unreachable server is reported against the setting that names it."""
    try:
        with engine.connect():
            pass
    except DBAPIError as error:
        raise database_error(error, setting, url) from None
