"""Helpers of the HTTP tests (tests/http): the secrets `serve` is started with, and ways to
make state the API reports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from defaults import default_retry_policy
from memora_cdn.app import App
from memora_cdn.core.model import SyncStatus, Trigger

SECRET = "s3cret-webhook"
TOKEN = "admin-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log


@contextmanager
def serving(folder: Path) -> Iterator[Server]:
    """`memora-cdn serve` on a free port in `folder` (its settings' defaults: the demo's
    database and store there), with the webhook secret and admin token above."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")},
        "MEMORA_CDN_WEBHOOK_SECRET": SECRET,
        "MEMORA_CDN_ADMIN_TOKEN": TOKEN,
    }
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "memora_cdn", "serve", "--port", str(port)],
            cwd=folder,
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


def queued(application: App) -> int:
    stats = application.queue.stats(application.now())
    return stats.pending + stats.retrying


def dead_letter(site: App, plan: str, message: str = "store error: boom") -> None:
    now = site.now()
    site.queue.enqueue([plan], now)
    [claim] = site.queue.claim("test", now, lease_seconds=60, plans=[plan])
    assert site.queue.fail(claim, message, now, default_retry_policy(max_retries=0)).dead


def failed_build(site: App, plan: str, message: str, days_ago: int = 0) -> None:
    at = site.now() - timedelta(days=days_ago)
    log_id = site.state.log_processing(plan, Trigger.SCHEDULER, at)
    site.state.log_finish(log_id, SyncStatus.FAILED, at, error=message)
