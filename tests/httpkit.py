"""Helpers of the HTTP tests (tests/http): the secrets `serve` is started with, and ways to
make state the API reports."""

from __future__ import annotations

import socket
import subprocess
from datetime import timedelta
from pathlib import Path

from memora_cdn.app import App
from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.queue.base import RetryPolicy

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


def queued(application: App) -> int:
    stats = application.queue.stats(application.now())
    return stats.pending + stats.retrying


def dead_letter(site: App, plan: str, message: str = "store error: boom") -> None:
    now = site.now()
    site.queue.enqueue([plan], now)
    [claim] = site.queue.claim("test", now, lease_seconds=60, plans=[plan])
    assert site.queue.fail(claim, message, now, RetryPolicy(max_retries=0)).dead


def failed_build(site: App, plan: str, message: str, days_ago: int = 0) -> None:
    at = site.now() - timedelta(days=days_ago)
    log_id = site.state.log_start(plan, Trigger.SCHEDULER, at)
    site.state.log_finish(log_id, SyncStatus.FAILED, at, error=message)
