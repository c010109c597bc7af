"""What the command line says when a database refuses (SPEC §7, §8): a read-only site user
without state_database_url, a wrong password, access denied, a server that is not there.
Each has its own message and exit code; none shows the password."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clirun import invoke
from memora_cdn.demo import PUBLISHED_DEMO_PLANS, seed


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@dataclass(frozen=True)
class Site:
    database: str
    user: str
    password: str
    server: Any

    def url(self, *, password: str | None = None, database: str | None = None) -> str:
        return (
            sa.make_url(self.server.url_for(database or self.database))
            .set(username=self.user, password=password or self.password)
            .render_as_string(hide_password=False)
        )

    def shown(self, *, database: str | None = None) -> str:
        """The URL as memora-cdn shows it (password hidden)."""
        return self.url(database=database).replace(f":{self.password}@", ":***@")


@pytest.fixture
def site(mariadb_server: Any) -> Iterator[Site]:
    """A MariaDB site database holding the demo catalogue, and a user that may only SELECT."""
    database = mariadb_server.create_database()
    user = f"memora_ro_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    admin = sa.create_engine(mariadb_server.url_for(database))
    try:
        seed(admin)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{password}'")
            conn.exec_driver_sql(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%%'")
        yield Site(database, user, password, mariadb_server)
    finally:
        admin.dispose()
        with mariadb_server.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
        mariadb_server.drop_database(database)


STATE_FIX = (
    "keep them in a database of their own with state_database_url, e.g. "
    "MEMORA_CDN_STATE_DATABASE_URL=sqlite:///memora-state.db (then `memora-cdn init`)\n"
)


@pytest.mark.mariadb
def test_a_select_only_site_user_is_told_to_set_state_database_url_and_the_fix_works(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, site: Site
) -> None:
    # The README's read-only example, as first written: the state tables default into the site.
    monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", site.url())
    code, out, err = invoke("sync", "--all")
    assert (code, out) == (10, ""), err
    assert err.startswith(
        f"error: cannot create memora-cdn's state tables in {site.shown()}: "
        '(1142, "CREATE command denied to user '
    )
    assert err.endswith(STATE_FIX)
    assert site.password not in err
    # The README's fix: state elsewhere, created by `init`; the site is only read.
    monkeypatch.setenv("MEMORA_CDN_STATE_DATABASE_URL", "sqlite:///memora-state.db")
    assert invoke("init") == (
        0,
        "Created the state tables (existing tables were left as they were).\n",
        "",
    )
    code, out, err = invoke("sync", "--all")
    assert code == 0, err
    for plan in PUBLISHED_DEMO_PLANS:
        assert plan in out
    assert (workdir / "cdn-out/plans/PLAN-G10-SCI/manifest.json").is_file()


@pytest.mark.mariadb
def test_a_wrong_password_is_told_apart_from_access_denied_and_unreachable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, site: Site
) -> None:
    monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", site.url(password="not-the-password"))
    code, out, err = invoke("status")
    assert (code, out) == (7, "")
    assert err == (
        f"error: the database at {site.shown()} refused the login: wrong password or user "
        f"(check database_url): (1045, \"Access denied for user '{site.user}'@'127.0.0.1' "
        '(using password: YES)")\n'
    )


@pytest.mark.mariadb
def test_a_database_the_user_may_not_use_is_access_denied(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, site: Site, mariadb_server: Any
) -> None:
    other = mariadb_server.create_database()
    try:
        monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", site.url(database=other))
        code, out, err = invoke("status")
        assert (code, out) == (10, "")
        assert err == (
            f"error: access denied by the database at {site.shown(database=other)} "
            f"(database_url): (1044, \"Access denied for user '{site.user}'@'%' "
            f"to database '{other}'\")\n"
        )
    finally:
        mariadb_server.drop_database(other)


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_server_that_is_not_there_is_unreachable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    url = f"mysql://reader:s3cret@127.0.0.1:{closed_port}/site"
    monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", url)
    code, out, err = invoke("status")
    assert (code, out) == (4, "")
    assert err == (
        f"error: cannot reach the database at mysql://reader:***@127.0.0.1:{closed_port}/site "
        "(database_url): (2003, \"Can't connect to MySQL server on '127.0.0.1' "
        '([Errno 111] Connection refused)")\n'
    )


@pytest.mark.postgres
def test_a_postgres_role_without_create_is_told_to_set_state_database_url(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, postgres_server: Any
) -> None:
    database = postgres_server.create_database()
    role = f"memora_ro_{secrets.token_hex(4)}"
    admin = sa.create_engine(postgres_server.url_for(database))
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
            conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        url = (
            sa.make_url(postgres_server.url_for(database))
            .set(username=role)
            .render_as_string(hide_password=False)
        )
        monkeypatch.setenv("MEMORA_CDN_DATABASE_URL", url)
        code, out, err = invoke("status")
        assert (code, out) == (10, "")
        assert err == (
            f"error: cannot create memora-cdn's state tables in {url}: "
            "permission denied for schema public LINE 2: CREATE TABLE IF NOT EXISTS"
            " cdn_schema_version ( ^; " + STATE_FIX
        )
    finally:
        admin.dispose()
        postgres_server.drop_database(database)
        with postgres_server.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
