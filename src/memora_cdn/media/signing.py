"""Signed media URLs (SPEC §3 "Signed media"): the HMAC and S3 signers, and the arithmetic of
how long a lesson holding signed URLs may be cached and when its plan must be rebuilt.

**Windows.** A signer signs "as of" the start of the expiry window that `now` falls in (windows
are multiples of `window_seconds` since the Unix epoch, so every worker agrees on them): a URL
signed at `now` expires at `window_start(now) + expiry`. Re-rendering a plan inside one window
therefore gives byte-identical lessons, and every URL handed out at `now` is valid for more
than `expiry − window` seconds (`ExpiryWindow.min_validity`). The default window is an hour,
or a quarter of the expiry when that is shorter (1 h expiry: 15 min windows, at least 45 min of
validity; 4 h: 1 h windows, at least 3 h).

**Caching and rebuilds.** A lesson with signed URLs is uploaded with `max_age_for(...)` and its
plan is rebuilt by `requeue_at(...)`; see those functions for what each guarantees and for the
condition the timing settings must meet (`min_validity > margin + 2 × slack`).

Pure except the S3 pieces: `S3Signer.sign` asks boto3 to presign (local computation, though the
client may look up credentials), and `default_s3_client_factory` builds a client. Secrets never
appear in a `repr`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from memora_cdn.errors import SettingError
from memora_cdn.media.base import NoSigner, SignedUrl, Signer
from memora_cdn.settings import Settings, SignerKind

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "REQUEUE_SLACK_SECONDS",
    "ConfigSigner",
    "ExpiryWindow",
    "HmacSigner",
    "MediaBase",
    "S3ClientFactory",
    "S3Signer",
    "config_signer",
    "default_s3_client_factory",
    "make_config_signer",
    "make_signer",
    "max_age_for",
    "requeue_at",
    "sign_config",
]

REQUEUE_SLACK_SECONDS = 900
"""Default time allowed between a plan's requeue deadline and its rebuilt files being live:
waiting in the queue (a batch runs every `batch_interval_minutes`, 5 by default), building,
uploading and purging."""

ConfigSigner = Callable[[dict[str, Any], int], tuple[dict[str, Any], int | None]]
"""(stage config, build time) → (signed config, earliest expiry or None); see `config_signer`."""

S3ClientFactory = Callable[[], "S3Client"]
"""Builds the S3 client used to presign media URLs; it must sign with SigV4 (see `S3Signer`)."""

_HOUR = 3600
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SIGNED_PARAMS = frozenset({"exp", "sig"})
_EXP = re.compile(r"[0-9]{1,12}")
_SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


# -- windows -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpiryWindow:
    """Expiry `expiry_seconds` after the start of the `window_seconds`-long window of `now`."""

    expiry_seconds: int
    window_seconds: int

    @classmethod
    def of(cls, expiry_hours: int, window_seconds: int | None = None) -> ExpiryWindow:
        """`expiry_hours` 1–24 (as the setting); the window defaults to min(1 h, expiry / 4)."""
        if not 1 <= expiry_hours <= 24:
            raise ValueError(f"expiry_hours must be 1–24, not {expiry_hours}")
        expiry = expiry_hours * _HOUR
        window = min(_HOUR, expiry // 4) if window_seconds is None else window_seconds
        if not 1 <= window < expiry:
            raise ValueError(
                f"window_seconds must be at least 1 and less than the expiry ({expiry} s), "
                f"not {window}"
            )
        return cls(expiry, window)

    def start(self, now: int) -> int:
        """The start of the window `now` falls in (a multiple of the window since the epoch)."""
        return now - now % self.window_seconds

    def expires_at(self, now: int) -> int:
        return self.start(now) + self.expiry_seconds

    @property
    def min_validity(self) -> int:
        """Every URL signed at `now` is still valid at `now + min_validity`."""
        return self.expiry_seconds - self.window_seconds


# -- which URLs are media ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaBase:
    """The media host and path prefix a signer signs under, parsed from `media_base_url`.

    A URL is under it when its scheme, host and port (the scheme's default port when absent)
    match, and its path lies strictly below the base path, segment-wise: `https://m.example/v`
    covers `https://m.example/v/a.mp4`, not `https://m.example/video.mp4`. A path with a `.` or
    `..` segment (also percent-encoded) is never signed: it might resolve outside the base.
    """

    url: str
    scheme: str
    host: str
    port: int | None
    path_prefix: str
    """The base path, ending in `/`."""

    @classmethod
    def parse(cls, url: str, schemes: frozenset[str]) -> MediaBase:
        parts = urlsplit(url)
        if parts.scheme.lower() not in schemes or not parts.hostname:
            shown = " or ".join(f"{s}://" for s in sorted(schemes))
            raise ValueError(f"must be an absolute {shown} URL with a host")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        scheme = parts.scheme.lower()
        prefix = parts.path if parts.path.endswith("/") else parts.path + "/"
        return cls(url, scheme, parts.hostname, _port(parts), prefix)

    def match(self, url: str) -> SplitResult | None:
        """The parts of `url` when it is under this base, else None."""
        try:
            parts = urlsplit(url)
            port = _port(parts)
        except ValueError:  # an invalid port or IPv6 literal: not ours
            return None
        if (parts.scheme.lower(), parts.hostname, port) != (self.scheme, self.host, self.port):
            return None
        if not parts.path.startswith(self.path_prefix) or parts.path == self.path_prefix:
            return None
        if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
            return None
        return parts


def _port(parts: SplitResult) -> int | None:
    return parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme.lower())


# -- HMAC ----------------------------------------------------------------------------------


class HmacSigner:
    """`?exp=<unix>&sig=<base64url(HMAC-SHA256(secret, path + exp)), unpadded>`.

    `path` is the URL's path exactly as written in it (percent-encoding kept, not decoded), and
    `exp` its decimal digits. An existing query's parameters are kept as written, minus any
    `exp`/`sig` ones (so signing a signed URL re-signs it), and `exp`/`sig` are appended after it;
    the query is *not* covered by the signature. A fragment is kept. A media server checks a
    request with `verify`, or with the same recipe: `exp` not passed, `sig` equal.
    """

    __slots__ = ("_secret", "base", "window")

    def __init__(
        self,
        media_base_url: str,
        secret: str | SecretStr,
        expiry_hours: int,
        window_seconds: int | None = None,
    ) -> None:
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not raw:
            raise ValueError("the signing secret is empty")
        self._secret = raw.encode("utf-8")
        self.base = MediaBase.parse(media_base_url, frozenset({"http", "https"}))
        self.window = ExpiryWindow.of(expiry_hours, window_seconds)

    def __repr__(self) -> str:
        return (
            f"HmacSigner(media_base_url={self.base.url!r}, secret='***', "
            f"expiry_seconds={self.window.expiry_seconds}, "
            f"window_seconds={self.window.window_seconds})"
        )

    def sign(self, url: str, now: int) -> SignedUrl | None:
        parts = self.base.match(url)
        if parts is None:
            return None
        exp = self.window.expires_at(now)
        kept = [p for p in parts.query.split("&") if p and _param(p) not in _SIGNED_PARAMS]
        query = "&".join([*kept, f"exp={exp}", f"sig={self._sig(parts.path, str(exp))}"])
        return SignedUrl(urlunsplit(parts._replace(query=query)), exp)

    def verify(self, url: str, now: int) -> bool:
        """Whether `url` is under the media base, carries exactly one `exp` and one `sig`, has
        not expired at `now` (it works up to and including second `exp`), and its signature
        matches (compared in constant time)."""
        parts = self.base.match(url)
        if parts is None:
            return False
        found: dict[str, list[str]] = {"exp": [], "sig": []}
        for pair in parts.query.split("&"):
            name = _param(pair)
            if name in found:
                found[name].append(pair.partition("=")[2])
        if len(found["exp"]) != 1 or len(found["sig"]) != 1:
            return False
        (exp_text,), (sig,) = found["exp"], found["sig"]
        if not _EXP.fullmatch(exp_text) or now > int(exp_text):
            return False
        expected = self._sig(parts.path, exp_text).encode("ascii")
        return hmac.compare_digest(expected, sig.encode("utf-8"))

    def _sig(self, path: str, exp: str) -> str:
        """Over the texts as they appear in the URL: a `exp` with leading zeros fails."""
        digest = hmac.new(self._secret, (path + exp).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _param(pair: str) -> str:
    return pair.partition("=")[0]


# -- S3 ------------------------------------------------------------------------------------


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


# -- configs -------------------------------------------------------------------------------


def sign_config(
    config: dict[str, Any], signer: Signer, keys: Sequence[str], now: int
) -> tuple[dict[str, Any], int | None]:
    """`config` with every string value of a key in `keys` that `signer` signs replaced by its
    signed URL, and the earliest expiry among them (None when nothing was signed).

    Keys are matched in the config object and in every object nested in it, through objects and
    arrays at any depth (a quiz's `questions[].video_url` is signed like a top-level one). Other
    values, and strings the signer does not sign (another host), are kept as they are. Pure:
    `config` is not modified; a new structure is returned.
    """
    wanted = frozenset(keys)
    expiries: list[int] = []

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: sign_value(v) if k in wanted else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    def sign_value(value: Any) -> Any:
        if not isinstance(value, str):
            return walk(value)
        signed = signer.sign(value, now)
        if signed is None:
            return value
        expiries.append(signed.expires_at)
        return signed.url

    signed_config: dict[str, Any] = walk(config)
    return signed_config, min(expiries, default=None)


def config_signer(signer: Signer, keys: Sequence[str]) -> ConfigSigner:
    """`sign_config` bound to a signer and the `signed_keys` setting, for `RenderOptions`."""
    frozen_keys = tuple(keys)

    def sign(config: dict[str, Any], now: int) -> tuple[dict[str, Any], int | None]:
        return sign_config(config, signer, frozen_keys, now)

    return sign


def max_age_for(expires_at: int | None, now: int, default: int, margin: int) -> int:
    """The `Cache-Control: max-age` of a lesson whose first signed URL expires at `expires_at`:
    `default` when it has none, else `min(default, max(0, expires_at − now − margin))`.

    Call it when the lesson is uploaded (`now` = upload time, not render time): a cache whose
    max-age clock starts at the upload (one that honours `Age`) then drops the copy while its
    URLs still have `margin` left. A cache whose clock starts later (a browser that first got
    the lesson from the CDN an hour after the upload) may hold it until the next rebuild plus
    max-age; `requeue_at` covers that when its margin includes the longest max-age handed out.
    """
    if expires_at is None:
        return default
    return min(default, max(0, expires_at - now - margin))


def requeue_at(expires_at: int, margin: int, slack: int = REQUEUE_SLACK_SECONDS) -> int:
    """When a plan whose earliest signed URL expires at `expires_at` must be queued for a
    rebuild: `expires_at − margin − slack`.

    If the rebuilt files are live within `slack` of that time (queue wait + build + upload +
    purge), every copy the CDN hands out still has at least `margin` seconds of validity. To
    also cover copies a client keeps for their max-age, pass `margin` plus the largest max-age
    a signed lesson gets (the `default` given to `max_age_for`).

    The timing must leave room: with `margin` as passed here, `window.min_validity` must exceed
    `margin + 2 × slack`, or the deadline can fall before the build that set it has published,
    and the plan would be rebuilt in a loop.
    """
    return expires_at - margin - slack


# -- from settings -------------------------------------------------------------------------

_VIRTUAL_HOSTED = re.compile(r"(?P<bucket>[a-z0-9][a-z0-9.\-]*?)\.s3[.\-].*amazonaws\.com")


def make_config_signer(
    settings: Settings, s3_client_factory: S3ClientFactory | None = None
) -> ConfigSigner | None:
    """What `RenderOptions.sign` takes: None for `signer=none`, else `config_signer` over
    `make_signer(settings, …)` and the `signed_keys` setting. Without a factory, `signer=s3`
    uses `default_s3_client_factory(settings)`."""
    if settings.signer is SignerKind.NONE:
        return None
    factory = s3_client_factory or default_s3_client_factory(settings)
    return config_signer(make_signer(settings, factory), settings.signed_keys)


def default_s3_client_factory(settings: Settings) -> S3ClientFactory:
    """A SigV4 client from the `s3_*` settings (boto3's credential chain when no keys are set).

    Its own client, not the store's: presigning needs `signature_version="s3v4"`, and it makes
    no requests (credentials aside), so it needs no pool or retry tuning."""

    def build() -> S3Client:
        import boto3
        from botocore.config import Config

        access = settings.s3_access_key
        secret = settings.s3_secret_key
        return boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=access.get_secret_value() if access else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(signature_version="s3v4"),
        )

    return build


def make_signer(settings: Settings, s3_client_factory: S3ClientFactory) -> Signer:
    """The signer the settings ask for. `s3_client_factory` is called only for `signer=s3`.

    - `none`: `NoSigner` (stage configs are left as they are).
    - `hmac`: `HmacSigner(media_base_url, signing_secret, signed_url_expiry_hours)`;
      `media_base_url` must be an `http(s)://` URL.
    - `s3`: `S3Signer` on the client the factory builds (it must sign with SigV4). The bucket
      comes from `media_base_url`: `s3://bucket/prefix` (stage configs then hold
      `s3://bucket/prefix/…` URLs), or a virtual-hosted S3 URL
      `https://bucket.s3.<region>.amazonaws.com/prefix` (configs hold those https URLs).

    A bad `media_base_url` is a `SettingError` naming it.
    """
    if settings.signer is SignerKind.NONE:
        return NoSigner()
    base_url = settings.media_base_url
    if not base_url:  # Settings already refuses this; kept for direct construction
        raise SettingError("media_base_url", None, f"needed when signer={settings.signer.value}")
    expiry = settings.signed_url_expiry_hours
    try:
        if settings.signer is SignerKind.HMAC:
            if settings.signing_secret is None:
                raise SettingError("signing_secret", None, "needed when signer=hmac")
            return HmacSigner(base_url, settings.signing_secret, expiry)
        bucket = _media_bucket(base_url)
        return S3Signer(s3_client_factory(), bucket, base_url, expiry)
    except ValueError as error:
        raise SettingError("media_base_url", base_url, str(error)) from None


def _media_bucket(media_base_url: str) -> str:
    parts = urlsplit(media_base_url)
    if parts.scheme == "s3" and parts.hostname:
        return parts.hostname
    if parts.scheme == "https" and parts.hostname:
        found = _VIRTUAL_HOSTED.fullmatch(parts.hostname)
        if found:
            return found["bucket"]
    raise ValueError(
        "signer=s3 needs the media bucket in it: s3://bucket/prefix, or "
        "https://bucket.s3.<region>.amazonaws.com/prefix"
    )
