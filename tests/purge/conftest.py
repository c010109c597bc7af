"""Fixtures for the purgers: a fake Cloudflare API on 127.0.0.1, and an HTTP client for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from memora_cdn.purge.cloudflare import cloudflare_client


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    """The client the product builds, with short timeouts: nothing here should wait long."""
    client = cloudflare_client(timeout=5.0, connect_timeout=2.0)
    try:
        yield client
    finally:
        client.close()
