"""Object store fixtures: moto's S3 server (one per session), a fault proxy and a bucket per test.

`store_under_test` runs a test once per implementation: `file` (a tmp folder), `s3` (a fresh
bucket behind the fault proxy) and `s3-prefix` (the same, with the store prefix `cdn/v1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakes.s3server import S3FaultProxy, s3_store
from memora_cdn.store.base import ObjectStore
from memora_cdn.store.local import FileStore


@dataclass
class StoreUnderTest:
    kind: str
    store: ObjectStore
    proxy: S3FaultProxy | None = None
    bucket: str = ""
    prefix: str = ""
    direct: Any = None

    @property
    def is_s3(self) -> bool:
        return self.proxy is not None

    def head(self, key: str) -> dict[str, Any]:
        """The object's metadata as S3 serves it (S3 stores only)."""
        assert self.direct is not None
        response: dict[str, Any] = self.direct.head_object(
            Bucket=self.bucket, Key=self.prefix + key
        )
        return response


@pytest.fixture(params=["file", "s3", "s3-prefix"])
def store_under_test(request: pytest.FixtureRequest, tmp_path: Path) -> StoreUnderTest:
    kind: str = request.param
    if kind == "file":
        return StoreUnderTest(kind, FileStore(tmp_path / "cdn"))
    proxy: S3FaultProxy = request.getfixturevalue("s3_proxy")
    bucket: str = request.getfixturevalue("s3_bucket")
    prefix = "cdn/v1/" if kind == "s3-prefix" else ""
    return StoreUnderTest(
        kind,
        s3_store(proxy.endpoint, bucket, prefix),
        proxy=proxy,
        bucket=bucket,
        prefix=prefix,
        direct=request.getfixturevalue("s3_direct"),
    )
