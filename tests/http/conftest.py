"""A real `memora-cdn serve` process on a free port, over the published demo (`demo`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from httpkit import SECRET, TOKEN, Server, serving
from memora_cdn.app import App, running
from memora_cdn.http.app import create_http_app
from memora_cdn.settings import load_settings


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
