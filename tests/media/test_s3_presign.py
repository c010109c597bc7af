"""Our SigV4 presigner (media/s3_presign.py) writes, byte for byte, the URL botocore's own
`generate_presigned_url` writes at the same time. botocore's clock is frozen here, in the test
only; the signer itself never touches botocore. Moto's S3 server does not check presigned
signatures, so a moto download proves the URL's shape, not its signature."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import botocore.auth
import pytest
from botocore.config import Config

from memora_cdn.media.s3_presign import Addressing, S3Credentials, amz_date, presign_get
from memora_cdn.media.s3_signer import S3Signer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SIGNED_AT = 1_699_999_200
"""2023-11-14T22:00:00Z."""
EXPIRES = 4 * 3600
REGION = "eu-west-1"
CREDENTIALS = S3Credentials("AKIAMEMORATEST", "memora/test+secret=key")
TEMPORARY = S3Credentials("ASIAMEMORATEST", "temporary-secret", "FwoGZXIvYXdzE+token/with=chars")
KEYS = [
    "media/intro.mp4",
    "media/lessons/intro video é.mp4",
    "media/دروس/الدرس الأول.mp4",
    "media/odd !'()*+,;=:@&$?#[]%~_.-chars.mp4",
    "media/" + "long-segment-" * 60 + "/" + "x" * 200 + ".mp4",
    "media//double/slash.mp4",
]
ENDPOINTS = [
    None,  # AWS, the regional endpoint
    "http://127.0.0.1:9000",
    "https://minio.example.com:9443",
    "https://r2.example.com",
]


@pytest.fixture
def frozen_botocore_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore presigns as of `SIGNED_AT` (this test's process only)."""
    at = datetime.fromtimestamp(SIGNED_AT, UTC)

    def get_current_datetime(remove_tzinfo: bool = True) -> datetime:
        return at.replace(tzinfo=None) if remove_tzinfo else at

    monkeypatch.setattr(botocore.auth, "get_current_datetime", get_current_datetime)


@functools.cache
def client(endpoint: str | None, style: str, credentials: S3Credentials) -> S3Client:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )


def botocore_url(s3: S3Client, bucket: str, key: str) -> str:
    return s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=EXPIRES
    )


STYLES = [
    pytest.param(endpoint, addressing, id=f"{endpoint or 'aws'}-{addressing}")
    for endpoint in ENDPOINTS
    for addressing in Addressing
    if not (addressing is Addressing.VIRTUAL and endpoint and "127.0.0.1" in endpoint)
]
"""Every endpoint in both styles, but an IP address, which botocore addresses by path only."""


@pytest.mark.usefixtures("frozen_botocore_clock")
@pytest.mark.parametrize("credentials", [CREDENTIALS, TEMPORARY], ids=["keys", "session-token"])
@pytest.mark.parametrize(("endpoint", "addressing"), STYLES)
@pytest.mark.parametrize("key", KEYS, ids=range(len(KEYS)))
def test_presign_get_writes_the_url_botocore_writes_at_that_time(
    key: str, endpoint: str | None, addressing: Addressing, credentials: S3Credentials
) -> None:
    s3 = client(endpoint, addressing.value, credentials)
    ours = presign_get(
        credentials,
        region=REGION,
        endpoint_url=s3.meta.endpoint_url,
        addressing=addressing,
        bucket="memora-media",
        key=key,
        signed_at=SIGNED_AT,
        expires_in=EXPIRES,
    )
    assert ours == botocore_url(s3, "memora-media", key)


def test_the_amz_date_is_the_utc_time_to_the_second() -> None:
    assert amz_date(SIGNED_AT) == "20231114T220000Z"
    assert amz_date(0) == "19700101T000000Z"


@pytest.mark.usefixtures("frozen_botocore_clock")
@pytest.mark.parametrize("style", ["path", "virtual"])
def test_the_s3_signer_signs_as_botocore_would_at_the_window_start(style: str) -> None:
    s3 = client("https://minio.example.com:9443", style, TEMPORARY)
    signer = S3Signer(s3, "memora-media", "s3://memora-media/media", 4)
    result = signer.sign(
        "s3://memora-media/media/lessons/intro%20video%20%C3%A9.mp4", SIGNED_AT + 1799
    )
    assert result is not None
    assert result.url == botocore_url(s3, "memora-media", "media/lessons/intro video é.mp4")
    assert result.expires_at == SIGNED_AT + EXPIRES


@pytest.mark.parametrize(
    ("endpoint", "style", "bucket", "expected"),
    [
        (None, "auto", "memora-media", Addressing.VIRTUAL),
        (None, "auto", "memora.media", Addressing.PATH),  # a dotted name breaks TLS wildcards
        ("http://127.0.0.1:9000", "auto", "memora-media", Addressing.PATH),
        ("https://r2.example.com", "auto", "memora-media", Addressing.PATH),
        ("https://r2.example.com", "virtual", "memora-media", Addressing.VIRTUAL),
        (None, "path", "memora-media", Addressing.PATH),
        ("http://127.0.0.1:9000", "virtual", "memora-media", Addressing.PATH),  # an IP: path
    ],
)
def test_the_addressing_follows_the_client_and_auto_uses_the_host_only_on_aws(
    endpoint: str | None, style: str, bucket: str, expected: Addressing
) -> None:
    s3 = client(endpoint, style, CREDENTIALS)
    assert S3Signer(s3, bucket, f"s3://{bucket}/media", 4).addressing is expected


def test_signing_leaves_botocores_clock_alone() -> None:
    before: Any = botocore.auth.get_current_datetime
    signer = S3Signer(client(None, "path", CREDENTIALS), "memora-media", "s3://memora-media/m", 4)
    assert signer.sign("s3://memora-media/m/a.mp4", SIGNED_AT) is not None
    assert botocore.auth.get_current_datetime is before


def test_a_client_without_credentials_is_a_setting_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    anonymous = boto3.session.Session().client(
        "s3", region_name=REGION, config=Config(signature_version="s3v4")
    )
    signer = S3Signer(anonymous, "memora-media", "s3://memora-media/m", 4)
    with pytest.raises(Exception, match="the S3 client has no credentials"):
        signer.sign("s3://memora-media/m/a.mp4", SIGNED_AT)
