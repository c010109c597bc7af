"""The published demo, and a real `memora-cdn serve` process on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from clirun import invoke
from httpkit import SECRET, TOKEN, Server, free_port
from memora_cdn.app import App, running
from memora_cdn.http.app import create_http_app
from memora_cdn.settings import load_settings


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_settings_env: None) -> Path:
    """The demo, seeded and published in this test's folder (a copy would be a different
    store, so its first sync would republish everything)."""
    monkeypatch.chdir(tmp_path)
    assert invoke("demo")[0] == 0
    return tmp_path


@pytest.fixture
def server(demo: Path) -> Iterator[Server]:
    """`memora-cdn serve` in the demo's folder, with a webhook secret and an admin token."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")},
        "MEMORA_CDN_WEBHOOK_SECRET": SECRET,
        "MEMORA_CDN_ADMIN_TOKEN": TOKEN,
    }
    log = demo / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "memora_cdn", "serve", "--port", str(port)],
            cwd=demo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(process, url, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


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
