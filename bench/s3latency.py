"""S3 under real latency: uploads of one plan through a proxy that delays every request.

moto's S3 server runs in a process of its own on the loopback; `bench/latency_proxy.py` (another
process) forwards to it, holding every byte
from the client for the delay, so each request (a PUT and its body alike) reaches the server
30 ms late, as over a 30 ms link, and answers come back at once.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memora_cdn.app import build_app
from memora_cdn.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.s3server import TEST_CREDENTIALS, new_bucket

REGION = "us-east-1"


# -- the measurement ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    concurrency: int
    files: int
    seconds: float
    """From the first PUT's start to the last PUT's end."""
    delay_ms: float

    @property
    def files_per_second(self) -> float:
        return self.files / self.seconds

    @property
    def bound_seconds(self) -> float:
        return self.files * self.delay_ms / 1000 / self.concurrency

    @property
    def ratio(self) -> float:
        return self.seconds / self.bound_seconds


class _TimedStore:
    """The store, with the span of its PUTs recorded."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.first: float | None = None
        self.last = 0.0
        self.puts = 0

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        started = time.perf_counter()
        if self.first is None:
            self.first = started
        self._store.put(key, body, content_type=content_type, cache_control=cache_control)
        self.last = max(self.last, time.perf_counter())
        self.puts += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def s3_server(delay_ms: float) -> Iterator[tuple[str, str]]:
    """moto's server and the latency proxy, each in its own process: (direct, delayed) URLs."""
    port = _free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = None
    try:
        _wait_for(port)
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("latency_proxy.py")),
                "--upstream",
                str(port),
                "--delay-ms",
                str(delay_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proxy.stdout is not None
        proxy_port = int(proxy.stdout.readline())
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{proxy_port}"
    finally:
        for process in (proxy, moto):
            if process is not None:
                process.terminate()
                process.wait()


def upload_plan(
    database_url: str,
    plan: str,
    endpoint: str,
    direct: str,
    concurrency: int,
    work: Path,
    delay_ms: float,
) -> Upload:
    """First publish of `plan` to a fresh bucket, through `endpoint`, with the production store
    (`make_store`: one client, a pool of `upload_concurrency` connections)."""
    access, secret = TEST_CREDENTIALS
    settings = Settings(
        database_url=database_url,
        state_database_url=f"sqlite:///{work / f's3-state-{concurrency}.db'}",
        store=f"s3://{new_bucket(direct)}",
        s3_endpoint_url=endpoint,
        s3_region=REGION,
        s3_access_key=access,
        s3_secret_key=secret,
        upload_concurrency=concurrency,
    )
    app = build_app(settings)
    try:
        app.prepare()
        timed = _TimedStore(app.store)
        app.publisher.store = timed  # type: ignore[assignment]
        app.publisher.publish(plan)
    finally:
        app.close()
    assert timed.first is not None
    return Upload(concurrency, timed.puts, timed.last - timed.first, delay_ms)
