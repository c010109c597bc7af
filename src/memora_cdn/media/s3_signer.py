"""The S3 signer (`signer=s3`, SPEC §3): SigV4 presigned GETs signed as of the start of their
expiry window. Design notes: docs/decisions/s3-signing.md"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from memora_cdn.errors import SettingError
from memora_cdn.media.base import MediaBase, SignedUrl
from memora_cdn.media.s3_presign import Addressing, S3Credentials, presign_get
from memora_cdn.media.windows import ExpiryWindow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_SIGV4 = frozenset({None, "s3v4", "v4"})
"""The client's `signature_version` values that mean SigV4 (None: botocore's default)."""
_AWS_HOST = re.compile(r"(^|\.)amazonaws\.com(\.cn)?$")
_VIRTUAL_HOSTABLE = re.compile(r"[a-z0-9][a-z0-9\-]{1,61}[a-z0-9]")
"""Bucket names that can be a host label (no dots: they would break the TLS wildcard)."""


class S3Signer:
    """A presigned GET (SigV4, `X-Amz-Date` + `X-Amz-Expires`) for media in `bucket`.

    Signs URLs under `media_base_url` (`s3://bucket/prefix`, or an `https://` host serving the
    bucket at its root); the object key is the URL's path, percent-decoded, without its leading
    `/`. The URL's query is dropped, its fragment kept. The URL is signed with the client's
    credentials, region, endpoint and addressing style, as of the window start (`presign_get`).
    """

    __slots__ = ("addressing", "base", "bucket", "client", "window")

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        media_base_url: str,
        expiry_hours: int,
        window_seconds: int | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("the media bucket is empty")
        self.client = client
        self.bucket = bucket
        self.base = MediaBase.parse(media_base_url, frozenset({"s3", "http", "https"}))
        self.window = ExpiryWindow.of(expiry_hours, window_seconds)
        _require_sigv4(client)
        self.addressing = _addressing(client, bucket)

    def __repr__(self) -> str:
        return (
            f"S3Signer(bucket={self.bucket!r}, media_base_url={self.base.url!r}, "
            f"{self.window.describe()})"
        )

    def sign(self, url: str, now: int) -> SignedUrl | None:
        """The presigned GET of `url` as of the start of `now`'s window, or None if not ours."""
        parts = self.base.match(url)
        if parts is None:
            return None
        start = self.window.start(now)
        presigned = presign_get(
            _credentials(self.client),
            region=self.client.meta.region_name,
            endpoint_url=self.client.meta.endpoint_url,
            addressing=self.addressing,
            bucket=self.bucket,
            key=unquote(parts.path).removeprefix("/"),
            signed_at=start,
            expires_in=self.window.expiry_seconds,
        )
        if parts.fragment:
            presigned = f"{presigned}#{parts.fragment}"
        return SignedUrl(presigned, start + self.window.expiry_seconds)


def _require_sigv4(client: S3Client) -> None:
    """A client configured for another signature (SigV2 `s3`, SigV4a) is refused."""
    version = _option(client, "signature_version")
    if version not in _SIGV4:
        raise SettingError(
            "signer",
            "s3",
            f"the S3 client presigned with signature_version={version!r}, not SigV4: "
            "media URLs need SigV4 signing; "
            'build the client with Config(signature_version="s3v4")',
        )


def _addressing(client: S3Client, bucket: str) -> Addressing:
    """The client's `addressing_style`; `auto` (the default) puts the bucket in the host on
    AWS when its name allows, and in the path on any other endpoint (MinIO, R2 by URL…).
    An endpoint that is an IP address is always addressed by path, as botocore does."""
    style = (_option(client, "s3") or {}).get("addressing_style") or "auto"
    host = urlsplit(client.meta.endpoint_url).hostname or ""
    if style == "path" or _is_ip(host):
        return Addressing.PATH
    if style == "virtual":
        return Addressing.VIRTUAL
    if _AWS_HOST.search(host) and _VIRTUAL_HOSTABLE.fullmatch(bucket):
        return Addressing.VIRTUAL
    return Addressing.PATH


def _is_ip(host: str) -> bool:
    """An IP address has no subdomains to put a bucket in."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _option(client: S3Client, name: str) -> Any:
    """A botocore `Config` option (set as attributes at run time, unknown to the stubs)."""
    return getattr(client.meta.config, name)


def _credentials(client: S3Client) -> S3Credentials:
    """The client's credentials, frozen for one signing (refreshed ones stay current).

    botocore offers no public accessor; `_get_credentials` is the read-only one it keeps for
    callers that sign themselves. Its absence is an error, never a silently unsigned URL."""
    getter: Any = getattr(client, "_get_credentials", None)
    if getter is None:
        raise RuntimeError(
            "this botocore client does not expose its credentials (_get_credentials): "
            "pin botocore or update memora_cdn.media.s3_signer"
        )
    found = getter()
    if found is None:
        raise SettingError(
            "signer", "s3", "the S3 client has no credentials to sign media URLs with"
        )
    frozen = found.get_frozen_credentials()
    return S3Credentials(frozen.access_key, frozen.secret_key, frozen.token)
