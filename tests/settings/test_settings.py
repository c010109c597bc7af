"""Settings (SPEC §7): defaults, sources, and errors that name the setting and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from memora_cdn.errors import SettingError
from memora_cdn.settings import SignerKind, load_settings, unknown_variables


@pytest.fixture(autouse=True)
def _clean_env(no_settings_env: None) -> None:
    """Settings come only from what each test sets."""


def test_defaults_are_the_embedded_default() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///memora.db"
    assert settings.state_url == "sqlite:///memora.db"
    assert settings.store == "file://./cdn-out"
    assert settings.store_path == Path("./cdn-out")
    assert settings.redis_url is None
    assert (settings.batch_interval_minutes, settings.batch_threshold) == (5, 50)
    assert (settings.max_retries, settings.retry_base_seconds, settings.lock_ttl_seconds) == (
        3,
        30,
        300,
    )
    assert (settings.upload_concurrency, settings.signed_url_expiry_hours) == (16, 4)
    assert (settings.shard_threshold, settings.shard_max_bytes) == (500, 100_000)
    assert settings.signer is SignerKind.NONE


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        (
            "SIGNED_URL_EXPIRY_HOURS",
            "30",
            "invalid setting signed_url_expiry_hours=30: Input should be less than or equal to 24",
        ),
        (
            "SIGNED_URL_EXPIRY_HOURS",
            "0",
            "invalid setting signed_url_expiry_hours=0: Input should be greater than or equal to 1",
        ),
        (
            "SIGNED_URL_EXPIRY_HOURS",
            "25",
            "invalid setting signed_url_expiry_hours=25: Input should be less than or equal to 24",
        ),
        (
            "BATCH_THRESHOLD",
            "0",
            "invalid setting batch_threshold=0: Input should be greater than or equal to 1",
        ),
        (
            "BATCH_INTERVAL_MINUTES",
            "soon",
            "invalid setting batch_interval_minutes=soon: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
        (
            "STORE",
            "ftp://host/x",
            "invalid setting store=ftp://host/x: must start with file:// or s3://",
        ),
        (
            "STORE",
            "s3://",
            "invalid setting store=s3://: an S3 store needs a bucket, e.g. s3://bucket/prefix",
        ),
        ("SIGNER", "rsa", "invalid setting signer=rsa: Input should be 'none', 's3' or 'hmac'"),
    ],
)
def test_a_bad_value_names_the_setting_and_the_value(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"MEMORA_CDN_{env}", value)
    with pytest.raises(SettingError) as caught:
        load_settings()
    assert str(caught.value) == message
    assert caught.value.name == env.lower()


def test_cloudflare_zone_without_token_is_refused() -> None:
    with pytest.raises(SettingError) as caught:
        load_settings(cloudflare_zone_id="zone")
    assert str(caught.value) == (
        "missing setting cloudflare_api_token: "
        "cloudflare_zone_id and cloudflare_api_token go together"
    )


def test_environment_overrides_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "memora.toml"
    config.write_text('batch_threshold = 7\nstore = "file://./elsewhere"\n')
    monkeypatch.setenv("MEMORA_CDN_BATCH_THRESHOLD", "9")
    settings = load_settings(config)
    assert settings.batch_threshold == 9
    assert settings.store == "file://./elsewhere"


def test_unknown_setting_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "memora.toml"
    config.write_text("batch_treshold = 7\n")
    with pytest.raises(SettingError) as caught:
        load_settings(config)
    assert str(caught.value) == (
        "invalid setting batch_treshold=7: unknown setting; did you mean batch_threshold?"
    )


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingError) as caught:
        load_settings(tmp_path / "nope.toml")
    assert str(caught.value) == f"invalid setting --config={tmp_path / 'nope.toml'}: no such file"


def test_secrets_never_show_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        admin_token="tok-123",
        webhook_secret="hook-456",
        signing_secret="sig-789",
        signer="hmac",
        media_base_url="https://media.example",
    )
    text = repr(settings) + str(settings) + str(settings.safe_repr())
    for secret in ("tok-123", "hook-456", "sig-789"):
        assert secret not in text
    monkeypatch.setenv("MEMORA_CDN_ADMIN_TOKEN", "x" * 3)
    monkeypatch.setenv("MEMORA_CDN_UPLOAD_CONCURRENCY", "0")
    with pytest.raises(SettingError) as caught:
        load_settings()
    assert "xxx" not in str(caught.value)


def test_s3_and_redis_secrets_stay_out_of_repr_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        store="s3://bucket/cdn",
        s3_access_key="AKIA-visible-nowhere",
        s3_secret_key="s3-secret-value",
        redis_url="redis://:redis-password@127.0.0.1:6379/0",
        cloudflare_zone_id="zone",
        cloudflare_api_token="cf-token-value",
        cdn_base_url="https://cdn.example.test",
    )
    text = repr(settings) + str(settings) + str(settings.safe_repr())
    for secret in ("AKIA-visible-nowhere", "s3-secret-value", "redis-password", "cf-token-value"):
        assert secret not in text
    monkeypatch.setenv("MEMORA_CDN_CLOUDFLARE_API_TOKEN", "cf-token-value")
    with pytest.raises(SettingError) as caught:
        load_settings()
    assert str(caught.value) == (
        "missing setting cloudflare_zone_id: "
        "cloudflare_zone_id and cloudflare_api_token go together"
    )
    assert "cf-token-value" not in str(caught.value)


def test_a_misspelt_variable_warns_naming_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch, no_settings_env: None
) -> None:
    monkeypatch.setenv("MEMORA_CDN_STROE", "file://./elsewhere")
    warnings: list[str] = []
    settings = load_settings(warn=warnings.append)
    assert settings.store == "file://./cdn-out"
    assert warnings == [
        "MEMORA_CDN_STROE is not a setting and is ignored; did you mean MEMORA_CDN_STORE (store)?"
    ]


def test_a_variable_like_no_setting_at_all_warns_without_a_guess() -> None:
    assert unknown_variables({"MEMORA_CDN_XYZZY": "1"}) == [
        "MEMORA_CDN_XYZZY is not a setting and is ignored"
    ]


def test_test_only_and_config_variables_and_real_settings_do_not_warn() -> None:
    environ = {
        "MEMORA_CDN_TEST_MARIADB_URL": "mysql://root@127.0.0.1/x",
        "MEMORA_CDN_REQUIRE_SERVICES": "1",
        "MEMORA_CDN_CONFIG": "/etc/memora.toml",
        "MEMORA_CDN_STORE": "file://./x",
        "MEMORA_CDN_STATE_DATABASE_URL": "sqlite:///s.db",
        "OTHER_STROE": "x",
    }
    assert unknown_variables(environ) == []
