"""The per-test database fixtures' teardown on MariaDB (tests/conftest.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa


def _databases(server: Any) -> set[str]:
    with server.admin.connect() as conn:
        return set(conn.exec_driver_sql("SHOW DATABASES").scalars())


@pytest.mark.mariadb
def test_dropping_a_database_tolerates_a_connection_that_ended_just_before_its_kill(
    mariadb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = mariadb_server.create_database()
    engine = sa.create_engine(mariadb_server.url_for(database), poolclass=sa.NullPool)
    with engine.connect() as conn:
        thread = int(conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one())
    engine.dispose()
    # The processlist still listed it, then it ended before the KILL (error 1094).
    monkeypatch.setattr(
        type(mariadb_server), "_connections_to", staticmethod(lambda conn, db: [thread])
    )
    mariadb_server.drop_database(database)
    assert database not in _databases(mariadb_server)


@pytest.mark.mariadb
def test_dropping_a_database_ends_a_connection_a_test_left_open(mariadb_server: Any) -> None:
    database = mariadb_server.create_database()
    engine = sa.create_engine(mariadb_server.url_for(database))
    leaked = engine.connect()
    leaked.exec_driver_sql("SELECT 1")
    started = time.monotonic()
    try:
        mariadb_server.drop_database(database)
        assert database not in _databases(mariadb_server)
        assert time.monotonic() - started < 10
    finally:
        leaked.invalidate()
        engine.dispose()
