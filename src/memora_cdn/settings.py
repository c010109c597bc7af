"""One typed settings object (SPEC §7): `MEMORA_CDN_*` variables over an optional TOML file.
Every problem is a `SettingError` naming the setting and the bad value; secrets are
`SecretStr`, so they never show in a log, an error or `repr`."""

from __future__ import annotations

import difflib
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from memora_cdn.errors import SettingError

_SECRETS = frozenset(
    {
        "s3_secret_key",
        "s3_access_key",
        "cloudflare_api_token",
        "signing_secret",
        "admin_token",
        "webhook_secret",
        "redis_url",
    }
)


class SignerKind(StrEnum):
    """How paid media URLs are signed (the `signer` setting)."""

    NONE = "none"
    S3 = "s3"
    HMAC = "hmac"


class Settings(BaseSettings):
    """Every setting with its default (SPEC §7); frozen once loaded."""

    model_config = SettingsConfigDict(
        env_prefix="MEMORA_CDN_", extra="forbid", frozen=True, validate_default=True
    )

    database_url: str = "sqlite:///memora.db"
    state_database_url: str | None = None
    redis_url: SecretStr | None = None
    redis_prefix: str = "memora-cdn:"
    """Every Redis key starts with this, so several sites can share one Redis."""
    store: str = "file://./cdn-out"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    cdn_base_url: str | None = None
    cloudflare_zone_id: str | None = None
    cloudflare_api_token: SecretStr | None = None
    cloudflare_api_base: str = "https://api.cloudflare.com/client/v4"
    batch_interval_minutes: int = Field(5, ge=1)
    batch_threshold: int = Field(50, ge=1)
    max_retries: int = Field(3, ge=0)
    retry_base_seconds: float = Field(30, gt=0)
    lock_ttl_seconds: int = Field(300, ge=5)
    upload_concurrency: int = Field(16, ge=1, le=256)
    signer: SignerKind = SignerKind.NONE
    signed_url_expiry_hours: int = Field(4, ge=1, le=24)
    media_base_url: str | None = None
    signing_secret: SecretStr | None = None
    signed_keys: tuple[str, ...] = ("video_url",)
    shard_threshold: int = Field(500, ge=1)
    shard_max_bytes: int = Field(100_000, ge=1_000)
    admin_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    scan_interval_seconds: int = Field(60, ge=0)
    """0: the worker does not scan (events come by notify, the hook or the webhook)."""
    manifest_cache_seconds: int = Field(60, ge=0)
    document_cache_seconds: int = Field(31_536_000, ge=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the TOML file, which arrives as init arguments.
        return (env_settings, init_settings)

    @field_validator("signed_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "file":
            if not (parts.netloc + parts.path):
                raise ValueError("a file store needs a folder, e.g. file://./cdn-out")
        elif parts.scheme == "s3":
            if not parts.netloc:
                raise ValueError("an S3 store needs a bucket, e.g. s3://bucket/prefix")
        else:
            raise ValueError("must start with file:// or s3://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if bool(self.cloudflare_zone_id) != bool(self.cloudflare_api_token):
            missing = "cloudflare_api_token" if self.cloudflare_zone_id else "cloudflare_zone_id"
            raise SettingError(
                missing, None, "cloudflare_zone_id and cloudflare_api_token go together"
            )
        if self.cloudflare_zone_id and not self.cdn_base_url:
            raise SettingError("cdn_base_url", None, "needed to purge Cloudflare (URLs to purge)")
        if self.signer is SignerKind.HMAC and not self.signing_secret:
            raise SettingError("signing_secret", None, "needed when signer=hmac")
        if self.signer is not SignerKind.NONE and not self.media_base_url:
            raise SettingError("media_base_url", None, f"needed when signer={self.signer.value}")
        return self

    @property
    def state_url(self) -> str:
        return self.state_database_url or self.database_url

    @property
    def store_path(self) -> Path:
        """The folder of a `file://` store (relative paths are relative to the working dir)."""
        rest = self.store.removeprefix("file://")
        return Path(rest)

    def safe_repr(self) -> dict[str, Any]:
        return {k: ("***" if k in _SECRETS and v is not None else v) for k, v in self}


_PREFIX = "MEMORA_CDN_"
_NOT_SETTINGS = ("MEMORA_CDN_TEST_", "MEMORA_CDN_REQUIRE_SERVICES", "MEMORA_CDN_CONFIG")
"""Variables with the prefix that are not settings: the test suite's service URLs and its
`REQUIRE_SERVICES` switch, and the TOML file the Frappe hook and RQ jobs read."""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per `MEMORA_CDN_*` variable that names no setting (a typo is otherwise
    silently ignored), naming the closest setting when there is one."""
    fields = sorted(Settings.model_fields)
    warnings = []
    for variable in sorted(environ):
        if not variable.startswith(_PREFIX) or variable.startswith(_NOT_SETTINGS):
            continue
        name = variable.removeprefix(_PREFIX).lower()
        if name in fields:
            continue
        warnings.append(f"{variable} is not a setting and is ignored{_closest(name, fields)}")
    return warnings


def _closest(name: str, fields: list[str], *, variable: bool = True) -> str:
    match = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
    if not match:
        return ""
    if not variable:
        return f"; did you mean {match[0]}?"
    return f"; did you mean {_PREFIX}{match[0].upper()} ({match[0]})?"


def _to_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def load_settings(
    config: Path | None = None,
    *,
    warn: Callable[[str], None] = _to_stderr,
    **overrides: Any,
) -> Settings:
    """Settings from the environment and `config`, or a `SettingError` naming what is wrong.

    A `MEMORA_CDN_*` variable that names no setting is passed to `warn` (stderr)."""
    for warning in unknown_variables(os.environ):
        warn(warning)
    values: dict[str, Any] = {}
    if config is not None:
        try:
            values = tomllib.loads(config.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingError("--config", config, "no such file") from None
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise SettingError("--config", config, str(error)) from None
        values = values.get("memora_cdn", values)
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as error:
        raise _setting_error(error) from None


def _setting_error(error: ValidationError) -> SettingError:
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "settings"
    value = first.get("input")
    if name in _SECRETS:
        value = "***"
    reason = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        reason = "unknown setting" + _closest(name, sorted(Settings.model_fields), variable=False)
    return SettingError(name, value, reason)
