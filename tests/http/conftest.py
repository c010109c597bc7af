"""The published demo, and a real `memora-cdn serve` process on a free port."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from clirun import invoke
from httpkit import SECRET, TOKEN, Server, serving
from memora_cdn.app import App, running
from memora_cdn.database import make_engine
from memora_cdn.http.app import create_http_app
from memora_cdn.settings import load_settings
from memora_cdn.state.schema import published_object, validated_plan
from memora_cdn.store.base import JSON_CONTENT_TYPE, MARKER
from memora_cdn.store.local import FileStore


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, seeded and published once per test process (`demo` copies it)."""
    folder = tmp_path_factory.mktemp("published-demo")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("MEMORA_CDN_") and not name.startswith(
                ("MEMORA_CDN_TEST_", "MEMORA_CDN_REQUIRE")
            ):
                patch.delenv(name)
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
                    update(table).where(table.c.store == template).values(store=store.identity)
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


@pytest.fixture
def server(demo: Path) -> Iterator[Server]:
    """`memora-cdn serve` in the demo's folder, with a webhook secret and an admin token."""
    with serving(demo) as running_server:
        yield running_server


@pytest.fixture
def site(demo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The demo's `App`, with the webhook secret and admin token of `server`."""
    monkeypatch.setenv("MEMORA_CDN_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("MEMORA_CDN_ADMIN_TOKEN", TOKEN)
    with running(load_settings()) as application:
        yield application


@pytest.fixture
def client(site: App) -> Iterator[TestClient]:
    with TestClient(create_http_app(site)) as test_client:
        yield test_client
