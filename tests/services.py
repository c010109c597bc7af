"""The services tests use (MariaDB, PostgreSQL, Redis): where they are, and what to do when
one is down: skip with the reason, or fail under `MEMORA_CDN_REQUIRE_SERVICES=1`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

CONNECT_TIMEOUT_SECONDS = 3
REQUIRE_SERVICES_ENV = "MEMORA_CDN_REQUIRE_SERVICES"


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    env: str
    default_url: str

    @property
    def url(self) -> str:
        return os.environ.get(self.env) or self.default_url

    @property
    def shown_url(self) -> str:
        """The URL with any password masked, for messages."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()


SERVICES: dict[str, Service] = {
    "MariaDB": Service(
        "MariaDB", "MEMORA_CDN_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
    "PostgreSQL": Service(
        "PostgreSQL",
        "MEMORA_CDN_TEST_POSTGRES_URL",
        "postgresql+psycopg://root@127.0.0.1:5432/test",
    ),
    "Redis": Service("Redis", "MEMORA_CDN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
}


def service_unavailable(name: str, reason: str) -> NoReturn:
    """Skip the test for a service that is down, or fail it when services are required."""
    service = SERVICES.get(name)
    url = service.shown_url if service is not None else "?"
    message = f"{name} not reachable at {url}: {reason}"
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
