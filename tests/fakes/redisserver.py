"""A `redis-server` of a test's own on a free port, which the test may crash and restart
(AOF on, so a restart keeps what was written, as a production Redis should)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


class PrivateRedis:
    """A `redis-server` of the test's own on a free port, which the test may crash."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", str(self.directory),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        probe = self.client()
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    if probe.ping():
                        return
                except redis.exceptions.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            probe.close()

    def crash(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client that fails fast while the server is down (no retries, short timeouts)."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server not found on PATH (needed to crash and restart a private server)"
        if os.environ.get("MEMORA_CDN_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    server = PrivateRedis(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.crash()
