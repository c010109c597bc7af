"""Signed media (SPEC §3): HMAC and S3 signers, stage configs, cache and requeue arithmetic.

The S3 tests presign against moto's S3 server on a loopback port and download the object with
httpx. Moto does not check presigned signatures or expiry, so each presigned URL is also checked
against SigV4 recomputed here from the AWS recipe.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from hypothesis import assume, given
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from memora_cdn.errors import SettingError
from memora_cdn.media import s3_signer as s3_signer_module
from memora_cdn.media.base import NoSigner, SignedUrl
from memora_cdn.media.signing import (
    REQUEUE_SLACK_SECONDS,
    ExpiryWindow,
    HmacSigner,
    S3Signer,
    config_signer,
    make_config_signer,
    make_signer,
    max_age_for,
    requeue_at,
    sign_config,
)
from memora_cdn.settings import Settings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BASE = "https://media.example.com/media"
SECRET = "s3cr3t-k3y"
NOW = 1_700_000_000
"""Falls 800 s into the hour that starts at 1_699_999_200."""
HOUR_START = 1_699_999_200
VIDEO = "https://media.example.com/media/lessons/intro%20video.mp4"


def hmac_signer(expiry_hours: int = 4, window_seconds: int | None = None) -> HmacSigner:
    return HmacSigner(BASE, SECRET, expiry_hours, window_seconds)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def signed(signer: HmacSigner | S3Signer, url: str, now: int) -> SignedUrl:
    result = signer.sign(url, now)
    assert result is not None, f"{url} was not signed"
    return result


# -- HMAC ----------------------------------------------------------------------------------


def test_hmac_signature_is_base64url_hmac_sha256_of_path_and_expiry() -> None:
    result = signed(hmac_signer(), VIDEO, NOW)

    exp = HOUR_START + 4 * 3600
    digest = hmac.new(
        SECRET.encode(), f"/media/lessons/intro%20video.mp4{exp}".encode(), hashlib.sha256
    ).digest()
    expected_sig = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert result.expires_at == exp
    assert result.url == f"{VIDEO}?exp={exp}&sig={expected_sig}"
    # The same vector from `openssl dgst -sha256 -hmac s3cr3t-k3y -binary | base64` (url-safe).
    assert expected_sig == "xA5PO2gD8oDPTwVntzmFZLkiCIVkkEdmvFQVAoyZnRc"


def test_hmac_keeps_the_query_and_fragment_and_appends_exp_and_sig() -> None:
    signer = hmac_signer()
    result = signed(signer, f"{VIDEO}?quality=hd&t=a%20b#t=10", NOW)

    parts = urlsplit(result.url)
    assert parts.query.startswith("quality=hd&t=a%20b&exp=1700013600&sig=")
    assert parts.fragment == "t=10"
    plain = signed(signer, VIDEO, NOW)
    assert query_of(result.url)["sig"] == query_of(plain.url)["sig"]  # the query is not signed
    assert signer.verify(result.url, NOW)


def test_signing_a_signed_url_replaces_its_exp_and_sig() -> None:
    signer = hmac_signer()
    first = signed(signer, f"{VIDEO}?quality=hd", NOW)
    later = signed(signer, first.url, NOW + 3600)

    assert later.url == signed(signer, f"{VIDEO}?quality=hd", NOW + 3600).url
    assert list(query_of(later.url)) == ["quality", "exp", "sig"]
    assert query_of(later.url)["exp"] == [str(HOUR_START + 5 * 3600)]


def test_hmac_urls_are_identical_within_a_window_and_differ_across_windows() -> None:
    signer = hmac_signer()
    in_window = {signed(signer, VIDEO, now).url for now in range(HOUR_START, HOUR_START + 3600)}
    assert len(in_window) == 1
    next_window = signed(signer, VIDEO, HOUR_START + 3600)
    assert next_window.url not in in_window
    assert next_window.expires_at == HOUR_START + 3600 + 4 * 3600


@pytest.mark.parametrize(
    ("expiry_hours", "window_seconds", "expected"),
    [(1, None, 900), (2, None, 1800), (4, None, 3600), (24, None, 3600), (4, 60, 60)],
)
def test_the_window_is_an_hour_or_a_quarter_of_a_shorter_expiry(
    expiry_hours: int, window_seconds: int | None, expected: int
) -> None:
    window = hmac_signer(expiry_hours, window_seconds).window
    assert window.window_seconds == expected
    assert window.min_validity == expiry_hours * 3600 - expected


@given(
    now=st.integers(0, 4_000_000_000),
    expiry_hours=st.integers(1, 24),
    window_seconds=st.one_of(st.none(), st.integers(1, 3599)),
)
def test_every_url_signed_now_is_valid_for_more_than_expiry_minus_window(
    now: int, expiry_hours: int, window_seconds: int | None
) -> None:
    signer = hmac_signer(expiry_hours, window_seconds)
    result = signed(signer, VIDEO, now)

    left = result.expires_at - now
    assert signer.window.min_validity < left <= expiry_hours * 3600
    assert signer.verify(result.url, now)
    assert signer.verify(result.url, now + signer.window.min_validity)
    assert signer.verify(result.url, result.expires_at)
    assert not signer.verify(result.url, result.expires_at + 1)
    assert result == signed(signer, VIDEO, signer.window.start(now))


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/media/a.mp4",
        "http://media.example.com/media/a.mp4",
        "https://media.example.com:8443/media/a.mp4",
        "https://media.example.com/mediafiles/a.mp4",
        "https://media.example.com/a.mp4",
        "https://media.example.com/media/",
        "https://media.example.com/media",
        "https://media.example.com/media/../private/a.mp4",
        "https://media.example.com/media/%2e%2e/private/a.mp4",
        "https://media.example.com/media/./a.mp4",
        "https://media.example.com.evil.example/media/a.mp4",
        "https://media.example.com:99999/media/a.mp4",
        "//media.example.com/media/a.mp4",
        "/media/a.mp4",
        "media/a.mp4",
        "not a url",
        "",
    ],
)
def test_urls_outside_the_media_base_are_not_signed(url: str) -> None:
    assert hmac_signer().sign(url, NOW) is None
    assert not hmac_signer().verify(url, NOW)


@pytest.mark.parametrize(
    "url",
    [
        "https://MEDIA.example.com/media/a.mp4",
        "HTTPS://media.example.com/media/a.mp4",
        "https://media.example.com:443/media/a.mp4",
        "https://media.example.com/media/deep/er/a.mp4",
    ],
)
def test_urls_under_the_media_base_are_signed_whatever_the_case_or_default_port(
    url: str,
) -> None:
    result = signed(hmac_signer(), url, NOW)
    assert result.url.lower().startswith(url.lower() + "?exp=")  # urlsplit lowercases the scheme
    assert hmac_signer().verify(result.url, NOW)


def tamper(url: str, old: str, new: str) -> str:
    assert old in url
    return url.replace(old, new, 1)


def test_verify_rejects_tampered_expired_and_malformed_urls() -> None:
    signer = hmac_signer()
    good = signed(signer, VIDEO, NOW)
    exp = str(good.expires_at)
    sig = query_of(good.url)["sig"][0]
    forged_exp = str(good.expires_at + 3600)
    assert signer.verify(good.url, NOW)

    rejected = {
        "other path": tamper(good.url, "intro%20video", "outro%20video"),
        "later exp": tamper(good.url, f"exp={exp}", f"exp={forged_exp}"),
        "leading zero exp": tamper(good.url, f"exp={exp}", f"exp=0{exp}"),
        "other sig": tamper(
            good.url, f"sig={sig}", f"sig={sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}"
        ),
        "padded sig": good.url + "=",
        "no sig": good.url.split("&sig=")[0],
        "no exp": tamper(good.url, f"exp={exp}&", ""),
        "two exps": tamper(good.url, "?", f"?exp={forged_exp}&"),
        "non-ascii sig": tamper(good.url, f"sig={sig}", "sig=ß"),
        "non-digit exp": tamper(good.url, f"exp={exp}", "exp=１７"),
        "other host": tamper(good.url, "media.example.com", "cdn.example.com"),
    }
    for reason, url in rejected.items():
        assert not signer.verify(url, NOW), reason
    assert not signer.verify(good.url, good.expires_at + 1), "expired"
    assert not HmacSigner(BASE, "another-secret", 4).verify(good.url, NOW), "other secret"


def test_signers_never_show_the_secret() -> None:
    for signer in (HmacSigner(BASE, SECRET, 4), HmacSigner(BASE, SecretStr(SECRET), 4)):
        shown = repr(signer)
        assert SECRET not in shown
        assert "secret='***'" in shown
    assert signed(HmacSigner(BASE, SecretStr(SECRET), 4), VIDEO, NOW) == signed(
        hmac_signer(), VIDEO, NOW
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((BASE, SECRET, 0), "expiry_hours must be 1–24, not 0"),
        ((BASE, SECRET, 25), "expiry_hours must be 1–24, not 25"),
        (
            (BASE, SECRET, 1, 3600),
            "window_seconds must be at least 1 and less than the expiry (3600 s), not 3600",
        ),
        (
            (BASE, SECRET, 1, 0),
            "window_seconds must be at least 1 and less than the expiry (3600 s), not 0",
        ),
        ((BASE, "", 4), "the signing secret is empty"),
        (
            ("s3://bucket/media", SECRET, 4),
            "must be an absolute http:// or https:// URL with a host",
        ),
        (("https:///media", SECRET, 4), "must be an absolute http:// or https:// URL with a host"),
        ((BASE + "?x=1", SECRET, 4), "must not have a query or fragment"),
    ],
)
def test_bad_signer_arguments_are_refused(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        HmacSigner(*arguments)


# -- stage configs -------------------------------------------------------------------------


def test_sign_config_signs_video_url_and_custom_keys_at_any_depth_and_nothing_else() -> None:
    signer = hmac_signer()
    config: dict[str, Any] = {
        "video_url": VIDEO,
        "audio_track": "https://media.example.com/media/a/track.m4a",
        "poster": "https://media.example.com/media/p.jpg",
        "duration": 95,
        "questions": [
            {"prompt": "Why?", "video_url": "https://media.example.com/media/q1.mp4"},
            {"prompt": "How?", "video_url": "https://youtube.com/watch?v=x"},
            "free text",
        ],
        "chapters": {"intro": {"audio_track": "https://media.example.com/media/c.m4a"}},
        "transcript": {"video_url": None},
    }
    original = copy.deepcopy(config)

    result, expires_at = sign_config(config, signer, ("video_url", "audio_track"), NOW)

    assert config == original, "the input is not modified"
    assert expires_at == HOUR_START + 4 * 3600
    signed_paths = [
        result["video_url"],
        result["audio_track"],
        result["questions"][0]["video_url"],
        result["chapters"]["intro"]["audio_track"],
    ]
    for url in signed_paths:
        assert signer.verify(url, NOW), url
    assert result["poster"] == original["poster"]
    assert result["questions"][1] == original["questions"][1]
    assert result["questions"][2] == "free text"
    assert result["transcript"] == {"video_url": None}
    assert result["duration"] == 95
    assert list(result) == list(original), "key order is kept"


def test_sign_config_returns_the_earliest_expiry_of_what_it_signed() -> None:
    class PerUrlExpiry:
        def sign(self, url: str, now: int) -> SignedUrl | None:
            if not url.startswith("media:"):
                return None
            return SignedUrl(f"{url}?signed", now + int(url.removeprefix("media:")))

    config = {"a": "media:300", "b": [{"a": "media:100"}], "c": "media:5", "d": "https://x/y"}
    result, expires_at = sign_config(config, PerUrlExpiry(), ["a"], NOW)

    assert expires_at == NOW + 100
    assert result == {
        "a": "media:300?signed",
        "b": [{"a": "media:100?signed"}],
        "c": "media:5",
        "d": "https://x/y",
    }


@pytest.mark.parametrize(
    "config",
    [{}, {"video_url": "https://youtube.com/watch?v=x"}, {"video_url": 3}, {"other": VIDEO}],
)
def test_sign_config_with_nothing_to_sign_returns_the_config_and_no_expiry(
    config: dict[str, Any],
) -> None:
    assert sign_config(config, hmac_signer(), ["video_url"], NOW) == (config, None)
    assert sign_config(config, NoSigner(), ["video_url"], NOW) == (config, None)


def test_config_signer_binds_the_signer_and_keys_for_render_options() -> None:
    sign = config_signer(hmac_signer(), ["video_url"])
    config = {"video_url": VIDEO}
    assert sign(config, NOW) == sign_config(config, hmac_signer(), ["video_url"], NOW)


# -- cache and requeue arithmetic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_at", "now", "default", "margin", "expected"),
    [
        (None, NOW, 31_536_000, 900, 31_536_000),
        (None, NOW, 60, 900, 60),
        (NOW + 4 * 3600, NOW, 31_536_000, 900, 4 * 3600 - 900),
        (NOW + 4 * 3600, NOW, 600, 900, 600),
        (NOW + 900, NOW, 600, 900, 0),
        (NOW + 901, NOW, 600, 900, 1),
        (NOW + 100, NOW, 600, 900, 0),
        (NOW - 100, NOW, 600, 900, 0),
        (NOW + 3600, NOW, 600, 0, 600),
    ],
)
def test_max_age_is_the_default_capped_by_remaining_validity_minus_margin(
    expires_at: int | None, now: int, default: int, margin: int, expected: int
) -> None:
    assert max_age_for(expires_at, now, default, margin) == expected


@pytest.mark.parametrize(
    ("expires_at", "margin", "slack", "expected"),
    [
        (NOW + 4 * 3600, 900, None, NOW + 4 * 3600 - 900 - REQUEUE_SLACK_SECONDS),
        (NOW + 4 * 3600, 900, 300, NOW + 4 * 3600 - 1200),
        (NOW + 4 * 3600, 0, 0, NOW + 4 * 3600),
    ],
)
def test_requeue_is_due_margin_plus_slack_before_the_expiry(
    expires_at: int, margin: int, slack: int | None, expected: int
) -> None:
    due = requeue_at(expires_at, margin) if slack is None else requeue_at(expires_at, margin, slack)
    assert due == expected


@given(
    expiry_hours=st.integers(1, 24),
    margin=st.integers(0, 2 * 3600),
    slack=st.integers(0, 1800),
    max_age_cap=st.integers(0, 3600),
    start=st.integers(1_500_000_000, 2_500_000_000),
    builds=st.lists(st.tuples(st.integers(0, 48 * 3600), st.floats(0, 1)), min_size=1, max_size=40),
)
def test_rebuilding_by_the_requeue_deadline_never_hands_out_a_url_with_less_than_the_margin(
    expiry_hours: int,
    margin: int,
    slack: int,
    max_age_cap: int,
    start: int,
    builds: list[tuple[int, float]],
) -> None:
    """A plan is rebuilt after any gap (an edit) or at its requeue deadline, whichever comes
    first; each build takes up to `slack` to go live. The CDN hands out the live lesson
    (changes are purged), and a client may keep what it got for the lesson's max-age. Every
    URL, at every hand-out and at the last use of a kept copy, has at least `margin` left."""
    signer = hmac_signer(expiry_hours)
    held = margin + max_age_cap  # the requeue margin covers copies kept for their max-age
    assume(signer.window.min_validity > held + 2 * slack)

    live: list[tuple[int, SignedUrl, int]] = []  # (went live at, lesson URL, max-age)
    render = start
    for gap, build_fraction in builds:
        url = signed(signer, VIDEO, render)  # the clock injected into the build
        went_live = render + round(slack * build_fraction)
        max_age = max_age_for(url.expires_at, went_live, max_age_cap, margin)
        live.append((went_live, url, max_age))
        deadline = requeue_at(url.expires_at, held, slack)
        assert deadline >= went_live, "the next rebuild is never due before this one is live"
        render = min(went_live + gap, deadline)

    for (went_live, url, max_age), (replaced_at, _, _) in itertools.pairwise(live):
        for handed_out in (went_live, replaced_at - 1):
            assert signer.verify(url.url, handed_out + margin)
            assert signer.verify(url.url, handed_out + max_age + margin)
            assert url.expires_at - handed_out >= margin


# -- S3 against moto's server --------------------------------------------------------------

REGION: Final = "eu-west-1"
ACCESS_KEY = "AKIAMEMORATEST"
SECRET_KEY = "memora-test-secret-key"
BUCKET = "memora-media"
VIDEO_KEY = "media/lessons/intro video é.mp4"
VIDEO_BODY = b"\x00\x00\x00\x18ftypmp42 a small video"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # a free port
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def make_client(endpoint: str, signature_version: str | None = "s3v4") -> S3Client:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version=signature_version, s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def s3_client(s3_endpoint: str) -> S3Client:
    client = make_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_object(Bucket=BUCKET, Key=VIDEO_KEY, Body=VIDEO_BODY)
    return client


S3_VIDEO = f"s3://{BUCKET}/{quote(VIDEO_KEY)}"


def s3_signer(client: S3Client, expiry_hours: int = 4) -> S3Signer:
    return S3Signer(client, BUCKET, f"s3://{BUCKET}/media", expiry_hours)


def sigv4_is_valid(url: str) -> bool:
    """Recomputes a presigned GET's SigV4 signature (AWS "query string authentication")."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    given_signature = dict(params)["X-Amz-Signature"]
    amz_date = dict(params)["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    if dict(params)["X-Amz-Credential"] != f"{ACCESS_KEY}/{scope}":
        return False
    canonical_query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(params)
        if name != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (amz_date[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given_signature)


def download(url: str) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=10) as client:
        return client.get(url)


def test_s3_presigned_url_is_signed_as_of_the_window_start_and_downloads(
    s3_client: S3Client,
) -> None:
    signer = s3_signer(s3_client)
    now = int(time.time())
    result = signed(signer, S3_VIDEO, now)

    window_start = now - now % 3600
    assert result.expires_at == window_start + 4 * 3600
    query = query_of(result.url)
    assert query["X-Amz-Date"] == [
        datetime.fromtimestamp(window_start, UTC).strftime("%Y%m%dT%H%M%SZ")
    ]
    assert query["X-Amz-Expires"] == [str(4 * 3600)]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert sigv4_is_valid(result.url)
    response = download(result.url)
    assert response.status_code == 200
    assert response.content == VIDEO_BODY


def test_s3_urls_are_identical_within_a_window_and_differ_across_windows(
    s3_client: S3Client,
) -> None:
    signer = s3_signer(s3_client)
    in_window = {signed(signer, S3_VIDEO, now).url for now in (HOUR_START, NOW, HOUR_START + 3599)}
    assert len(in_window) == 1
    other = signed(signer, S3_VIDEO, HOUR_START + 3600)
    assert other.url not in in_window
    assert query_of(other.url)["X-Amz-Date"] == ["20231114T230000Z"]
    assert sigv4_is_valid(other.url)
    assert sigv4_is_valid(next(iter(in_window)))


def test_s3_signer_keeps_the_fragment_and_leaves_other_urls_alone(s3_client: S3Client) -> None:
    signer = s3_signer(s3_client)
    result = signed(signer, S3_VIDEO + "?versionId=x#t=10", NOW)
    assert result.url.endswith("#t=10")
    assert "versionId" not in result.url
    for url in (
        f"s3://other-bucket/media/{quote(VIDEO_KEY)}",
        f"s3://{BUCKET}/private/a.mp4",
        f"s3://{BUCKET}/media/../private/a.mp4",
        f"https://{BUCKET}/media/a.mp4",
        VIDEO,
    ):
        assert signer.sign(url, NOW) is None, url


def test_s3_signing_time_never_leaks_into_other_threads_requests(
    s3_client: S3Client, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a presign runs as of the window start, a request signed on another thread (a
    store upload, say) carries the real time."""
    other_client = make_client(s3_endpoint)
    other_dates: list[str] = []
    other_client.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: other_dates.append(request.headers["X-Amz-Date"].decode()),
    )

    def upload_from_another_thread(**_: Any) -> None:
        thread = threading.Thread(
            target=other_client.put_object, kwargs={"Bucket": BUCKET, "Key": "x", "Body": b"x"}
        )
        thread.start()
        thread.join()

    signing_client = make_client(s3_endpoint)
    # The presign no longer goes through botocore: the upload runs while our presigner does.
    presign = s3_signer_module.presign_get

    def presign_during_an_upload(*args: Any, **kwargs: Any) -> str:
        upload_from_another_thread()
        return presign(*args, **kwargs)

    monkeypatch.setattr(s3_signer_module, "presign_get", presign_during_an_upload)
    past = int(time.time()) - 10 * 3600
    result = signed(s3_signer(signing_client), S3_VIDEO, past)

    assert query_of(result.url)["X-Amz-Date"] == [
        datetime.fromtimestamp(past - past % 3600, UTC).strftime("%Y%m%dT%H%M%SZ")
    ]
    assert len(other_dates) == 1
    sent = datetime.strptime(other_dates[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(sent.timestamp() - time.time()) < 300
    # And this thread's own clock is back to the real time once the presign is done.
    plain = s3_client.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": VIDEO_KEY}
    )
    plain_date = datetime.strptime(query_of(plain)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    assert abs(plain_date.replace(tzinfo=UTC).timestamp() - time.time()) < 300


def test_s3_signer_refuses_a_client_that_cannot_presign_as_of_a_time(s3_endpoint: str) -> None:
    sigv2 = make_client(s3_endpoint, signature_version="s3")
    with pytest.raises(SettingError) as caught:
        s3_signer(sigv2).sign(S3_VIDEO, NOW)
    assert caught.value.name == "signer"
    assert str(caught.value).startswith("invalid setting signer=s3: the S3 client presigned")
    assert str(caught.value).endswith(
        'media URLs need SigV4 signing; build the client with Config(signature_version="s3v4")'
    )


# -- from settings -------------------------------------------------------------------------


@pytest.fixture
def settings_env(no_settings_env: None) -> None:
    """Settings come only from what each test passes."""


def no_s3_client() -> S3Client:
    raise AssertionError("the S3 client factory is called only for signer=s3")


def test_signer_none_signs_nothing(settings_env: None) -> None:
    settings = load_settings()
    assert isinstance(make_signer(settings, no_s3_client), NoSigner)
    assert make_config_signer(settings, no_s3_client) is None


def test_signer_hmac_is_built_from_the_settings(settings_env: None) -> None:
    settings = load_settings(
        signer="hmac", media_base_url=BASE, signing_secret=SECRET, signed_url_expiry_hours=2
    )
    signer = make_signer(settings, no_s3_client)
    assert isinstance(signer, HmacSigner)
    assert signer.window == ExpiryWindow(2 * 3600, 1800)
    assert SECRET not in repr(signer)
    assert signed(signer, VIDEO, NOW) == signed(hmac_signer(2), VIDEO, NOW)

    sign = make_config_signer(settings.model_copy(update={"signed_keys": ("clip",)}))
    assert sign is not None
    config, expires_at = sign({"clip": VIDEO, "video_url": VIDEO}, NOW)
    assert config["video_url"] == VIDEO
    assert signer.verify(config["clip"], NOW)
    assert expires_at == HOUR_START + 2 * 3600


@pytest.mark.parametrize(
    ("media_base_url", "bucket"),
    [
        ("s3://memora-media/media", "memora-media"),
        ("s3://memora-media", "memora-media"),
        ("https://memora-media.s3.eu-west-1.amazonaws.com/media", "memora-media"),
        ("https://memora-media.s3.amazonaws.com/", "memora-media"),
        ("https://memora.media.s3-eu-west-1.amazonaws.com/media", "memora.media"),
    ],
)
def test_signer_s3_takes_its_bucket_from_the_media_base_url(
    settings_env: None, s3_client: S3Client, media_base_url: str, bucket: str
) -> None:
    settings = load_settings(signer="s3", media_base_url=media_base_url)
    signer = make_signer(settings, lambda: s3_client)
    assert isinstance(signer, S3Signer)
    assert signer.bucket == bucket
    assert signer.window == ExpiryWindow(4 * 3600, 3600)


@pytest.mark.parametrize(
    ("signer", "media_base_url", "message"),
    [
        (
            "s3",
            "https://media.example.com/media",
            "invalid setting media_base_url=https://media.example.com/media: signer=s3 needs "
            "the media bucket in it: s3://bucket/prefix, or "
            "https://bucket.s3.<region>.amazonaws.com/prefix",
        ),
        (
            "hmac",
            "s3://memora-media/media",
            "invalid setting media_base_url=s3://memora-media/media: must be an absolute "
            "http:// or https:// URL with a host",
        ),
    ],
)
def test_a_media_base_url_the_signer_cannot_use_is_a_setting_error(
    settings_env: None, signer: str, media_base_url: str, message: str
) -> None:
    settings = load_settings(signer=signer, media_base_url=media_base_url, signing_secret=SECRET)
    with pytest.raises(SettingError) as caught:
        make_signer(settings, no_s3_client)
    assert str(caught.value) == message
    assert caught.value.name == "media_base_url"


def test_signer_s3_from_settings_alone_presigns_urls_that_download(
    settings_env: None, s3_client: S3Client, s3_endpoint: str
) -> None:
    settings: Settings = load_settings(
        signer="s3",
        media_base_url=f"s3://{BUCKET}/media",
        s3_endpoint_url=s3_endpoint,
        s3_region=REGION,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
    )
    sign = make_config_signer(settings)
    assert sign is not None
    now = int(time.time())
    config, expires_at = sign({"video_url": S3_VIDEO, "title": "Intro"}, now)

    assert expires_at == now - now % 3600 + 4 * 3600
    assert config["title"] == "Intro"
    assert sigv4_is_valid(config["video_url"])
    response = download(config["video_url"])
    assert (response.status_code, response.content) == (200, VIDEO_BODY)
