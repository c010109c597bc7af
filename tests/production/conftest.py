"""A Frappe-like MariaDB site with a read-only user for memora-cdn, and a state database
(the S3 server, fault proxy and fake Cloudflare fixtures come from tests/fakes)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes.cloudflare import FakeCloudflare
from sitekit import CDN, Site


@dataclass
class MariaSite:
    """A Frappe-like site database, a read-only user on it, and a state database."""

    admin: sa.Engine
    """Full rights on the site database (the editors' side)."""
    site_url: str
    """memora-cdn's read-only view of the site."""
    state_url: str


@pytest.fixture
def maria_site(mariadb_server: object) -> Iterator[MariaSite]:
    server = mariadb_server
    site_db = server.create_database()  # type: ignore[attr-defined]
    state_db = server.create_database()  # type: ignore[attr-defined]
    user = f"memora_ro_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    admin = sa.create_engine(server.url_for(site_db))  # type: ignore[attr-defined]
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{password}'")
        conn.exec_driver_sql(f"GRANT SELECT ON `{site_db}`.* TO '{user}'@'%%'")
    site_url = (
        sa.make_url(server.url_for(site_db))  # type: ignore[attr-defined]
        .set(username=user, password=password)
        .render_as_string(hide_password=False)
    )
    try:
        yield MariaSite(admin, site_url, server.url_for(state_db))  # type: ignore[attr-defined]
    finally:
        admin.dispose()
        with server.admin.connect() as conn:  # type: ignore[attr-defined]
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
        server.drop_database(site_db)  # type: ignore[attr-defined]
        server.drop_database(state_db)  # type: ignore[attr-defined]


@pytest.fixture
def purging_site(tmp_path: Path, cloudflare: FakeCloudflare) -> Iterator[Site]:
    """A standalone site that purges the fake Cloudflare API after each publish (no content:
    the test builds its catalogue)."""
    site = Site(
        tmp_path,
        cdn_base_url=CDN,
        cloudflare_zone_id=cloudflare.zone_id,
        cloudflare_api_token=cloudflare.token,
        cloudflare_api_base=cloudflare.api_base,
    )
    yield site
    site.close()
