"""An S3 bucket (AWS S3, Cloudflare R2, MinIO, …) as the CDN origin: `s3://bucket/prefix`.
Design notes: docs/decisions/s3-store.md"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import add_expect_header
from more_itertools import chunked

from memora_cdn.core.paths import MAX_KEY_BYTES
from memora_cdn.errors import SettingError, StoreError
from memora_cdn.store.base import MARKER

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

DELETE_BATCH = 1_000
"""The most keys one DeleteObjects call takes (an S3 limit, R2's too)."""

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
MAX_ATTEMPTS = 10
_DETAIL_MAX = 300
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})


def s3_client(
    endpoint_url: str | None,
    region: str | None,
    access_key: str | None,
    secret_key: str | None,
    max_pool_connections: int,
    *,
    max_attempts: int = MAX_ATTEMPTS,
) -> S3Client:
    """A boto3 S3 client as memora-cdn uses it in production.

    With no keys, boto3's default chain finds credentials (environment, profile, instance
    role). Checksums are sent and checked only where S3 requires them, which every
    S3-compatible service (R2 included) accepts.
    """
    if (access_key is None) != (secret_key is None):
        missing = "s3_secret_key" if secret_key is None else "s3_access_key"
        raise SettingError(missing, None, "s3_access_key and s3_secret_key go together")
    config = Config(
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        tcp_keepalive=True,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session per client: boto3's default session is not safe to share between threads.
    session = boto3.session.Session()
    client = session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )
    # botocore sends every PUT body with `Expect: 100-continue` and waits for the answer: one
    # more round trip per file, for documents far smaller than anything worth refusing early.
    client.meta.events.unregister("before-call.s3", add_expect_header)
    return client


def parse_store_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → (`bucket`, `some/prefix/`); no prefix → `""`."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise SettingError("store", url, "an S3 store needs a bucket, e.g. s3://bucket/prefix")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3Store:
    """The object store in an S3 bucket, under an optional key prefix."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        redact: Sequence[str] = (),
        page_size: int = 1_000,
        endpoint_url: str | None = None,
    ) -> None:
        """`redact`: strings (credentials) that must never appear in an error detail;
        `page_size`: keys per listing request (S3's maximum, 1,000, by default);
        `endpoint_url`: the `s3_endpoint_url` setting, whose host is part of the identity."""
        self.client = client
        netloc = urlsplit(endpoint_url).netloc if endpoint_url else ""
        self.endpoint_host = netloc.rpartition("@")[2]  # host[:port], never a user or password
        self.page_size = page_size
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._redact = tuple(secret for secret in redact if secret)

    @property
    def identity(self) -> str:
        """`s3://bucket/prefix`, and `?endpoint=host[:port]` for a non-AWS endpoint."""
        endpoint = f"?endpoint={self.endpoint_host}" if self.endpoint_host else ""
        return self.describe() + endpoint

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.rstrip('/')}".rstrip("/")

    def __repr__(self) -> str:
        return f"S3Store({self.describe()!r})"

    # -- operations ---------------------------------------------------------------------

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._full(key),
                Body=body,
                ContentType=content_type,
                CacheControl=cache_control,
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(key, self._detail(error)) from None

    def sync(self) -> None:
        """Nothing to do: S3 answers a PUT once the object is stored durably."""

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
            return response["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return None
            raise StoreError(key, self._detail(error)) from None
        except BotoCoreError as error:
            raise StoreError(key, self._detail(error)) from None

    def delete(self, keys: Sequence[str]) -> None:
        """Batches of 1,000 (quiet); keys that do not exist are not an error, nor are keys
        too long to exist (recorded by an older layout).

        Every batch is tried; keys the service refused to delete are then reported together.
        """
        unique = list(dict.fromkeys(self._full(key) for key in keys if self._can_exist(key)))
        failed: list[tuple[str, str]] = []
        for batch in chunked(unique, DELETE_BATCH):
            objects: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in batch]
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            except (ClientError, BotoCoreError) as error:
                raise StoreError(self._relative(batch[0]), self._detail(error)) from None
            failed += [
                (self._relative(e.get("Key", "?")), e.get("Code", "error"))
                for e in response.get("Errors", [])
            ]
        if failed:
            shown = ", ".join(f"{key} ({code})" for key, code in failed[:5])
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            raise StoreError(
                failed[0][0], self._scrub(f"{len(failed)} keys not deleted: {shown}{more}")
            )

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list_keys(prefix))
        self.delete(keys)
        return len(keys)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=self.prefix + prefix,
            PaginationConfig={"PageSize": self.page_size},
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = self._relative(item["Key"])
                    if key != MARKER:
                        yield key
        except (ClientError, BotoCoreError) as error:
            raise StoreError(prefix, self._detail(error)) from None

    def partials(self, prefix: str = "") -> list[str]:
        """None: an S3 PUT is atomic, it lands whole or not at all."""
        return []

    # -- helpers ------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        """The object key; refused before any request if S3 or R2 would refuse it."""
        segments = key.split("/")
        if any(s in ("", ".", "..") or "\\" in s or "\x00" in s for s in segments):
            raise StoreError(key, "a key segment is empty, '.', '..' or not a plain name")
        full = self.prefix + key
        size = len(full.encode())
        if size > MAX_KEY_BYTES:
            raise StoreError(
                key,
                f"the key is {size:,} bytes with the store prefix {self.prefix!r},"
                f" over the {MAX_KEY_BYTES:,} that S3 and R2 accept",
            )
        return full

    def _can_exist(self, key: str) -> bool:
        return len((self.prefix + key).encode()) <= MAX_KEY_BYTES

    def _relative(self, full: str) -> str:
        return full.removeprefix(self.prefix)

    def _detail(self, error: ClientError | BotoCoreError) -> str:
        if isinstance(error, ClientError):
            info = error.response.get("Error", {})
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = info.get("Code", "error")
            message = info.get("Message", "")
            text = f"{error.operation_name} failed: {code}"
            text += f" (HTTP {status})" if status else ""
            text += f": {message}" if message and message != code else ""
        else:
            text = f"{type(error).__name__}: {error}"
        return self._scrub(" ".join(text.split()))

    def _scrub(self, text: str) -> str:
        for secret in self._redact:
            text = text.replace(secret, "***")
        return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"
