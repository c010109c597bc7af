"""SigV4 query-string presigning of S3 GETs at an explicit time: AWS's documented algorithm
with hashlib and hmac, no clock and no botocore. Design notes: docs/decisions/s3-signing.md"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote, urlsplit

from memora_cdn.media.base import DEFAULT_PORTS

_ALGORITHM = "AWS4-HMAC-SHA256"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True, slots=True)
class S3Credentials:
    """An access key pair, and the session token that temporary credentials carry."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


class Addressing(StrEnum):
    """Where the bucket goes: the path (`host/bucket/key`) or the host (`bucket.host/key`)."""

    PATH = "path"
    VIRTUAL = "virtual"


def amz_date(unix_seconds: int) -> str:
    """`X-Amz-Date` for a Unix time: `20231114T230000Z`."""
    return time.strftime(_TIMESTAMP, time.gmtime(unix_seconds))


def presign_get(
    credentials: S3Credentials,
    *,
    region: str,
    endpoint_url: str,
    addressing: Addressing,
    bucket: str,
    key: str,
    signed_at: int,
    expires_in: int,
) -> str:
    """A presigned GET of `bucket`/`key` signed as of `signed_at` (Unix seconds), valid until
    `signed_at + expires_in`: the URL botocore's `generate_presigned_url` writes at that time."""
    endpoint = urlsplit(endpoint_url)
    base_path = endpoint.path.rstrip("/")
    object_path = quote(key, safe="/~")
    if addressing is Addressing.PATH:
        netloc, path = endpoint.netloc, f"{base_path}/{quote(bucket, safe='')}/{object_path}"
    else:
        netloc, path = f"{bucket}.{endpoint.netloc}", f"{base_path}/{object_path}"
    date = amz_date(signed_at)
    scope = f"{date[:8]}/{region}/s3/aws4_request"
    params = [
        ("X-Amz-Algorithm", _ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
        ("X-Amz-Date", date),
        ("X-Amz-Expires", str(expires_in)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if credentials.token is not None:
        params.append(("X-Amz-Security-Token", credentials.token))
    canonical_request = "\n".join(
        [
            "GET",
            path,  # S3 signs the path as sent: encoded once, not normalised
            _query(sorted(params)),
            f"host:{_host(endpoint.scheme, netloc)}",
            "",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join(
        [_ALGORITHM, date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    signing_key = f"AWS4{credentials.secret_key}".encode()
    for part in (date[:8], region, "s3", "aws4_request"):
        signing_key = _hmac(signing_key, part)
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    query = _query([*params, ("X-Amz-Signature", signature)])
    return f"{endpoint.scheme}://{netloc}{path}?{query}"


def _query(params: list[tuple[str, str]]) -> str:
    """Names and values URI-encoded as SigV4 asks: everything but `A-Za-z0-9-_.~`."""
    return "&".join(f"{quote(name, safe='~')}={quote(value, safe='~')}" for name, value in params)


def _host(scheme: str, netloc: str) -> str:
    """The `Host` header: lowercase, without user info or the scheme's default port."""
    parts = urlsplit(f"{scheme}://{netloc}")
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    return host


def _hmac(key: bytes, message: str) -> bytes:
    """One step of the signing key's derivation."""
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
