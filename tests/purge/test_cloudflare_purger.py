"""The Cloudflare purger against a fake Cloudflare API on 127.0.0.1 (SPEC §4 step 3): batches
of at most 30 URLs, bearer token, 429/Retry-After, retried 5xx and timeouts, checked responses,
and a token that never leaks."""

from __future__ import annotations

import logging
import socket
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from fakes.cloudflare import MAX_FILES, FakeCloudflare
from memora_cdn.errors import PurgeError
from memora_cdn.purge.base import Purger, PurgeReport
from memora_cdn.purge.cloudflare import (
    DEFAULT_API_BASE,
    CloudflarePurger,
    cloudflare_client,
)

CDN = "https://cdn.example.test"


def lesson_keys(n: int, plan: str = "P1") -> list[str]:
    return [f"plans/{plan}/lessons/L{i:03}.json" for i in range(n)]


class Sleeps(list[float]):
    """The injected `sleep`: records every wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_purger(
    cloudflare: FakeCloudflare, client: httpx.Client, **overrides: Any
) -> tuple[CloudflarePurger, Sleeps]:
    sleeps = Sleeps()
    options: dict[str, Any] = {
        "zone_id": cloudflare.zone_id,
        "api_token": SecretStr(cloudflare.token),
        "api_base": cloudflare.api_base,
        "cdn_base_url": CDN,
        "client": client,
        "sleep": sleeps,
        "max_attempts": 3,
        "backoff_base_seconds": 0.5,
    }
    return CloudflarePurger(**(options | overrides)), sleeps


def purge_failing(purger: CloudflarePurger, keys: list[str]) -> PurgeError:
    with pytest.raises(PurgeError) as caught:
        purger.purge(keys)
    assert type(caught.value) is PurgeError  # the purger's error type, exactly
    return caught.value


# -- batches and requests ---------------------------------------------------------------


def test_95_keys_are_purged_in_4_calls_of_at_most_30_urls(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client)
    keys = lesson_keys(95)

    report = purger.purge(keys)

    assert report == PurgeReport(urls=95, requests=4, failures=0)
    calls = cloudflare.calls
    assert [len(call.files or []) for call in calls] == [30, 30, 30, 5]
    assert {call.path for call in calls} == {f"/client/v4/zones/{cloudflare.zone_id}/purge_cache"}
    assert cloudflare.purged == [f"{CDN}/{key}" for key in keys]
    assert sleeps == []


def test_duplicate_keys_are_purged_once_in_their_first_order(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, _ = make_purger(cloudflare, http_client)
    keys = lesson_keys(31)

    report = purger.purge([*keys, *reversed(keys), keys[0]])

    assert report == PurgeReport(urls=31, requests=2, failures=0)
    assert cloudflare.purged == [f"{CDN}/{key}" for key in keys]


def test_no_keys_make_no_call(cloudflare: FakeCloudflare, http_client: httpx.Client) -> None:
    purger, _ = make_purger(cloudflare, http_client)

    assert purger.purge([]) == PurgeReport()
    assert cloudflare.calls == []


@pytest.mark.parametrize(
    ("cdn_base_url", "expected"),
    [
        ("https://cdn.example.test", "https://cdn.example.test/plans/P%2F1/manifest.json"),
        ("https://cdn.example.test/", "https://cdn.example.test/plans/P%2F1/manifest.json"),
        (
            "https://cdn.example.test/edge//",
            "https://cdn.example.test/edge/plans/P%2F1/manifest.json",
        ),
    ],
)
def test_urls_are_the_cdn_base_url_and_the_key_joined_by_one_slash(
    cloudflare: FakeCloudflare, http_client: httpx.Client, cdn_base_url: str, expected: str
) -> None:
    purger, _ = make_purger(cloudflare, http_client, cdn_base_url=cdn_base_url)

    purger.purge(["plans/P%2F1/manifest.json"])

    assert cloudflare.purged == [expected]
    assert purger.url_of("plans/P%2F1/manifest.json") == expected


def test_every_call_is_a_json_post_with_the_bearer_token(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, _ = make_purger(cloudflare, http_client, api_token=cloudflare.token)  # a plain str

    purger.purge(lesson_keys(40))

    calls = cloudflare.calls
    assert len(calls) == 2
    for call in calls:
        assert call.method == "POST"
        assert call.headers["authorization"] == f"Bearer {cloudflare.token}"
        assert call.headers["content-type"] == "application/json"


def test_the_purger_is_a_purger(cloudflare: FakeCloudflare, http_client: httpx.Client) -> None:
    purger: Purger = make_purger(cloudflare, http_client)[0]
    assert purger.purge(lesson_keys(1)).urls == 1


def test_the_fake_refuses_more_than_30_files_like_cloudflare(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    files = [f"{CDN}/{key}" for key in lesson_keys(MAX_FILES + 1)]
    response = http_client.post(
        f"{cloudflare.api_base}/zones/{cloudflare.zone_id}/purge_cache",
        json={"files": files},
        headers={"Authorization": f"Bearer {cloudflare.token}"},
    )
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["errors"][0]["message"] == "Maximum of 30 files per request"
    assert cloudflare.purged == []


# -- 429 and Retry-After ----------------------------------------------------------------


def test_a_429_waits_retry_after_seconds_then_retries_the_same_batch(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client)
    cloudflare.rate_limit_next(1, retry_after="7")
    keys = lesson_keys(45)

    report = purger.purge(keys)

    assert sleeps == [7.0]
    assert report == PurgeReport(urls=45, requests=3, failures=0)
    assert [len(call.files or []) for call in cloudflare.calls] == [30, 30, 15]
    assert cloudflare.purged == [f"{CDN}/{key}" for key in keys]


def test_each_retry_is_logged_with_its_wait_and_attempt_number(
    cloudflare: FakeCloudflare, http_client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    purger, _sleeps = make_purger(cloudflare, http_client)
    cloudflare.rate_limit_next(1, retry_after="7")

    with caplog.at_level(logging.WARNING, logger="memora_cdn.purge.cloudflare"):
        purger.purge(lesson_keys(1))

    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("Cloudflare purge of 1 URLs: HTTP 429")
    assert warning.endswith("retrying in 7.0 s (attempt 2 of 3)")


def test_a_retry_after_beyond_the_cap_waits_the_cap(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client, max_retry_after_seconds=60)
    cloudflare.rate_limit_next(1, retry_after="3600")

    assert purger.purge(lesson_keys(1)).requests == 2
    assert sleeps == [60.0]


@pytest.mark.parametrize("retry_after", [None, "soon", "nan"])
def test_a_429_without_a_readable_retry_after_backs_off(
    cloudflare: FakeCloudflare, http_client: httpx.Client, retry_after: str | None
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client)
    cloudflare.rate_limit_next(2, retry_after=retry_after)

    assert purger.purge(lesson_keys(1)) == PurgeReport(urls=1, requests=3, failures=0)
    assert sleeps == [0.5, 1.0]


def test_rate_limited_for_every_attempt_fails_the_batch_after_max_attempts(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client)
    cloudflare.rate_limit_next(3, retry_after="2")
    keys = lesson_keys(3)

    error = purge_failing(purger, keys)

    assert error.keys == keys
    assert sleeps == [2.0, 2.0]
    assert str(error) == (
        "CDN purge failed for 3 URLs: batch 1/1 (3 URLs): "
        "HTTP 429: Rate limited (code 10000) (after 3 attempts)"
    )
    assert error.report == PurgeReport(urls=0, requests=3, failures=1)


# -- 5xx, timeouts and refused connections ----------------------------------------------


def test_a_500_is_retried_with_exponential_backoff_then_succeeds(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client, max_attempts=4)
    cloudflare.fail_next(3, status=500)
    keys = lesson_keys(10)

    report = purger.purge(keys)

    assert sleeps == [0.5, 1.0, 2.0]
    assert report == PurgeReport(urls=10, requests=4, failures=0)
    assert cloudflare.purged == [f"{CDN}/{key}" for key in keys]


def test_the_backoff_is_capped(cloudflare: FakeCloudflare, http_client: httpx.Client) -> None:
    purger, sleeps = make_purger(
        cloudflare, http_client, max_attempts=5, backoff_base_seconds=1, backoff_max_seconds=3
    )
    cloudflare.fail_next(4, status=503)

    assert purger.purge(lesson_keys(1)).requests == 5
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


def test_a_read_timeout_is_retried(cloudflare: FakeCloudflare) -> None:
    with cloudflare_client(timeout=0.3, connect_timeout=1.0) as client:
        purger, sleeps = make_purger(cloudflare, client)
        cloudflare.hang_next(1, seconds=3.0)
        keys = lesson_keys(5)

        report = purger.purge(keys)

    assert report == PurgeReport(urls=5, requests=2, failures=0)
    assert sleeps == [0.5]
    assert len(cloudflare.calls) == 2
    assert cloudflare.purged == [f"{CDN}/{key}" for key in keys]


def test_an_unreachable_api_is_retried_then_every_key_is_reported(
    http_client: httpx.Client,
) -> None:
    with socket.socket() as probe:  # a port on loopback that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    purger = CloudflarePurger(
        zone_id="zone",
        api_token="cf-unreachable-secret",
        api_base=f"http://127.0.0.1:{port}/client/v4",
        cdn_base_url=CDN,
        client=http_client,
        sleep=(sleeps := Sleeps()),
        max_attempts=3,
        backoff_base_seconds=0.5,
    )
    keys = lesson_keys(35)

    error = purge_failing(purger, keys)

    assert error.keys == keys
    assert error.report == PurgeReport(urls=0, requests=6, failures=2)
    assert sleeps == [0.5, 1.0, 0.5, 1.0]
    assert "ConnectError" in error.detail
    assert "(after 3 attempts)" in error.detail


# -- failures that are not retried ------------------------------------------------------


def test_a_batch_failing_for_good_raises_its_keys_after_the_other_batches_went_through(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client)
    cloudflare.pass_next(1)
    cloudflare.fail_next(3, status=500)  # batch 2, every attempt
    keys = lesson_keys(95)

    error = purge_failing(purger, keys)

    assert error.keys == keys[30:60]
    assert error.report == PurgeReport(urls=65, requests=6, failures=1)
    assert [len(call.files or []) for call in cloudflare.calls] == [30, 30, 30, 30, 30, 5]
    assert cloudflare.purged == [f"{CDN}/{key}" for key in keys[:30] + keys[60:]]
    assert sleeps == [0.5, 1.0]
    assert str(error) == (
        "CDN purge failed for 30 URLs: batch 2/4 (30 URLs): "
        "HTTP 500: Internal server error (code 10001) (after 3 attempts)"
    )


def test_http_200_with_success_false_is_a_failure_with_cloudflares_message_and_no_retry(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client)
    cloudflare.reject_next(1, "Invalid url: host not in zone", code=1012)
    keys = lesson_keys(32)

    error = purge_failing(purger, keys)

    assert error.keys == keys[:30]
    assert error.report == PurgeReport(urls=2, requests=2, failures=1)
    assert sleeps == []
    assert str(error) == (
        "CDN purge failed for 30 URLs: batch 1/2 (30 URLs): "
        "HTTP 200: Invalid url: host not in zone (code 1012)"
    )


def test_a_wrong_token_fails_every_batch_once_without_retry(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client, api_token="cf-wrong-secret-token")
    keys = lesson_keys(40)

    error = purge_failing(purger, keys)

    assert error.keys == keys
    assert error.report == PurgeReport(urls=0, requests=2, failures=2)
    assert len(cloudflare.calls) == 2
    assert sleeps == []
    assert str(error) == (
        "CDN purge failed for 40 URLs: "
        "batch 1/2 (30 URLs): HTTP 401: Authentication error (code 10000); "
        "batch 2/2 (10 URLs): HTTP 401: Authentication error (code 10000)"
    )


def test_an_unknown_zone_fails_without_retry(
    cloudflare: FakeCloudflare, http_client: httpx.Client
) -> None:
    purger, sleeps = make_purger(cloudflare, http_client, zone_id="0" * 32)

    error = purge_failing(purger, lesson_keys(1))

    assert len(cloudflare.calls) == 1
    assert sleeps == []
    assert error.detail == (
        "batch 1/1 (1 URLs): HTTP 404: Could not route to zone, invalid identifier (code 7003)"
    )


# -- configuration ----------------------------------------------------------------------


def test_the_client_has_connect_and_read_timeouts_and_follows_no_redirects() -> None:
    with cloudflare_client(timeout=20.0, connect_timeout=5.0) as client:
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 20.0
        assert client.timeout.write == 20.0
        assert client.timeout.pool == 20.0
        assert client.follow_redirects is False
    with cloudflare_client() as client:
        assert client.timeout.connect is not None
        assert client.timeout.read is not None


def test_defaults_are_cloudflares_api_and_30_urls_per_call(http_client: httpx.Client) -> None:
    purger = CloudflarePurger(zone_id="abc", api_token="t", cdn_base_url=CDN, client=http_client)
    assert purger.api_base == DEFAULT_API_BASE == "https://api.cloudflare.com/client/v4"
    assert purger.endpoint == "https://api.cloudflare.com/client/v4/zones/abc/purge_cache"
    assert purger.batch_size == 30


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 31}, "batch_size=31: must be between 1 and 30"),
        ({"batch_size": 0}, "batch_size=0: must be between 1 and 30"),
        ({"max_attempts": 0}, "max_attempts=0: must be at least 1"),
        ({"api_token": SecretStr("")}, "api_token is empty"),
        ({"zone_id": ""}, "zone_id is empty"),
        ({"cdn_base_url": ""}, "cdn_base_url is empty"),
    ],
)
def test_bad_limits_are_refused_at_construction(
    http_client: httpx.Client, overrides: dict[str, Any], message: str
) -> None:
    options: dict[str, Any] = {
        "zone_id": "abc",
        "api_token": "t",
        "cdn_base_url": CDN,
        "client": http_client,
    }
    with pytest.raises(ValueError, match=f"^{message}$"):
        CloudflarePurger(**(options | overrides))


# -- the token never leaks --------------------------------------------------------------


@pytest.mark.parametrize("as_secret", [True, False], ids=["SecretStr", "str"])
def test_the_token_is_not_in_repr_errors_or_logs(
    cloudflare: FakeCloudflare,
    http_client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    as_secret: bool,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    token = cloudflare.token
    purger, _ = make_purger(
        cloudflare, http_client, api_token=SecretStr(token) if as_secret else token
    )
    cloudflare.rate_limit_next(1, retry_after="1")
    cloudflare.fail_next(1, status=502)
    cloudflare.pass_next(1)
    cloudflare.fail_next(3, status=500)
    wrong, _ = make_purger(cloudflare, http_client, api_token="cf-wrong-secret-token")

    error = purge_failing(purger, lesson_keys(40))
    wrong_error = purge_failing(wrong, lesson_keys(1))

    assert error.report == PurgeReport(urls=30, requests=6, failures=1)
    assert caplog.records, "the retries and the failure are logged"
    texts = [
        repr(purger),
        str(purger),
        repr(wrong),
        str(error),
        repr(error),
        error.detail,
        str(wrong_error),
        caplog.text,
        *(record.getMessage() for record in caplog.records),
    ]
    for text in texts:
        assert token not in text
        assert "cf-wrong-secret-token" not in text
    assert repr(purger) == (
        f"CloudflarePurger(zone_id={cloudflare.zone_id!r}, api_base={cloudflare.api_base!r}, "
        f"cdn_base_url={CDN!r}, api_token=SecretStr('**********'))"
    )
