"""The S3 signer (`signer=s3`, SPEC §3): boto3 presigned GETs aligned on expiry windows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from memora_cdn.errors import SettingError
from memora_cdn.media.base import SignedUrl
from memora_cdn.media.hmac_signer import MediaBase
from memora_cdn.media.windows import ExpiryWindow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


class S3Signer:
    """A boto3 presigned GET (SigV4, `X-Amz-Date` + `X-Amz-Expires`) for media in `bucket`.

    Signs URLs under `media_base_url` (`s3://bucket/prefix`, or an `https://` host serving the
    bucket at its root, such as `https://bucket.s3.region.amazonaws.com/`); the object key is
    the URL's path, percent-decoded, without its leading `/`. The URL's query is dropped (the
    presigned URL carries its own), its fragment kept. The presigned URL points wherever the
    client's endpoint does.

    **Alignment.** SigV4 presigned URLs expire at `X-Amz-Date + X-Amz-Expires`, and botocore
    takes `X-Amz-Date` from its clock, `botocore.auth.get_current_datetime()`, which it looks up
    at every signing. So the presign runs with that clock reading the window start: once per
    process, `get_current_datetime` in `botocore.auth` (and `botocore.crt.auth` when the CRT is
    installed) is replaced by a function that returns the time held in a `ContextVar` when one
    is set and otherwise calls the original. The variable is set only around this signer's
    `generate_presigned_url` call, and a context variable is private to its thread (and
    asyncio task), so every other botocore request in the process, such as the store's uploads
    on other threads, still signs with the real time; no lock is needed and nothing is held
    across calls. We preferred this to the alternatives: copying `SigV4Auth.add_auth` into a
    subclass registered under a private signature version relies on more private botocore code,
    and caching one URL per window is not shared between workers or restarts. Every presigned
    URL is checked to carry the aligned `X-Amz-Date` and the expected `X-Amz-Expires`, so a
    SigV2 client or a botocore that no longer reads that clock fails loudly (`SettingError`)
    instead of silently changing lesson bytes. SigV2 (`s3`) presigns, boto3's default for some
    regions, take their expiry from `time.time()` and cannot be aligned: build the client with
    `botocore.config.Config(signature_version="s3v4")`.

    Limits: a URL signed with temporary credentials stops working when they expire, and a
    bucket that needs a session (S3 Express) would sign its session request with the past
    timestamp too; use long-lived credentials for media signing.
    """

    __slots__ = ("base", "bucket", "client", "window")

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
        _install_aligned_clock()

    def __repr__(self) -> str:
        return (
            f"S3Signer(bucket={self.bucket!r}, media_base_url={self.base.url!r}, "
            f"expiry_seconds={self.window.expiry_seconds}, "
            f"window_seconds={self.window.window_seconds})"
        )

    def sign(self, url: str, now: int) -> SignedUrl | None:
        parts = self.base.match(url)
        if parts is None:
            return None
        key = unquote(parts.path).removeprefix("/")
        start = self.window.start(now)
        signed_at = datetime.fromtimestamp(start, UTC)
        with _clock_reads(signed_at):
            presigned = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.window.expiry_seconds,
            )
        self._check_aligned(presigned, signed_at)
        if parts.fragment:
            presigned = f"{presigned}#{parts.fragment}"
        return SignedUrl(presigned, start + self.window.expiry_seconds)

    def _check_aligned(self, presigned: str, signed_at: datetime) -> None:
        query = parse_qs(urlsplit(presigned).query)
        expected = {
            "X-Amz-Date": [signed_at.strftime(_SIGV4_TIMESTAMP)],
            "X-Amz-Expires": [str(self.window.expiry_seconds)],
        }
        got = {name: query.get(name) for name in expected}
        if got != expected:
            raise SettingError(
                "signer",
                "s3",
                f"the S3 client presigned {got} instead of {expected}: media URLs need SigV4 "
                'signing; build the client with Config(signature_version="s3v4")',
            )


_SIGNING_TIME: ContextVar[datetime | None] = ContextVar("memora_cdn_signing_time", default=None)
_INSTALL_LOCK = threading.Lock()
_BOTOCORE_CLOCK = "get_current_datetime"


@contextmanager
def _clock_reads(at: datetime) -> Iterator[None]:
    """botocore's clock reads `at` (UTC) in this thread/task for the duration of the block."""
    token = _SIGNING_TIME.set(at)
    try:
        yield
    finally:
        _SIGNING_TIME.reset(token)


def _install_aligned_clock() -> None:
    """Route botocore's signing clock through `_SIGNING_TIME` (idempotent, thread-safe)."""
    import botocore.auth
    import botocore.compat

    modules: list[ModuleType] = [botocore.auth]
    if getattr(botocore.compat, "HAS_CRT", False):
        import botocore.crt.auth

        modules.append(botocore.crt.auth)
    with _INSTALL_LOCK:
        for module in modules:
            current = getattr(module, _BOTOCORE_CLOCK, None)
            if current is None:
                raise RuntimeError(
                    f"{module.__name__}.{_BOTOCORE_CLOCK} is gone: this botocore cannot "
                    "presign as of a given time; pin botocore or update memora_cdn.media.signing"
                )
            if not getattr(current, "_memora_cdn_aligned", False):
                setattr(module, _BOTOCORE_CLOCK, _aligned(current))


def _aligned(original: Callable[..., datetime]) -> Callable[..., datetime]:
    def get_current_datetime(remove_tzinfo: bool = True) -> datetime:
        fixed = _SIGNING_TIME.get()
        if fixed is None:
            return original(remove_tzinfo=remove_tzinfo)
        return fixed.replace(tzinfo=None) if remove_tzinfo else fixed

    get_current_datetime._memora_cdn_aligned = True  # type: ignore[attr-defined]
    return get_current_datetime
