"""Signed media URLs (SPEC §3 "Signed media"): signing the media URLs of stage configs, and
the signer the settings ask for. The signers are in `hmac_signer` and `s3_signer`, the expiry
windows and the cache/rebuild arithmetic in `windows`. Secrets never appear in a `repr`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from memora_cdn.errors import SettingError
from memora_cdn.media.base import MediaBase, NoSigner, Signer
from memora_cdn.media.hmac_signer import HmacSigner
from memora_cdn.media.s3_signer import S3Signer
from memora_cdn.media.windows import REQUEUE_SLACK_SECONDS, ExpiryWindow, max_age_for, requeue_at
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

ConfigSigner = Callable[[dict[str, Any], int], tuple[dict[str, Any], int | None]]
"""(stage config, build time) → (signed config, earliest expiry or None); see `config_signer`."""

S3ClientFactory = Callable[[], "S3Client"]
"""Builds the S3 client used to presign media URLs; it must sign with SigV4 (see `S3Signer`)."""


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
