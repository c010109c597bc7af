"""Cloudflare purge by URL, in batches of 30, with retries for 429, 5xx and timeouts.
Design notes: docs/decisions/cloudflare-purge.md"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import tenacity
from more_itertools import chunked
from pydantic import SecretStr

from memora_cdn.errors import PurgeError
from memora_cdn.purge.base import PurgeReport

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"
MAX_FILES_PER_CALL = 30
"""Cloudflare's limit of URLs in one purge-by-URL call."""
_SHOWN_BODY_CHARS = 200


def cloudflare_client(
    *, timeout: float = 30.0, connect_timeout: float = 10.0, user_agent: str = "memora-cdn"
) -> httpx.Client:
    """An HTTP client for the Cloudflare API: bounded connect and read (and write, pool)
    timeouts, no redirects followed. The caller owns it and closes it."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        headers={"User-Agent": user_agent},
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    detail: str = ""
    retry: bool = False
    wait: float | None = None
    """Seconds the server asked us to wait (429 `Retry-After`), before capping."""


class CloudflarePurger:
    """Implements `Purger` against the Cloudflare API (or anything that speaks it)."""

    def __init__(
        self,
        *,
        zone_id: str,
        api_token: SecretStr | str,
        cdn_base_url: str,
        client: httpx.Client,
        api_base: str = DEFAULT_API_BASE,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 30.0,
        max_retry_after_seconds: float = 60.0,
        batch_size: int = MAX_FILES_PER_CALL,
    ) -> None:
        if not zone_id:
            raise ValueError("zone_id is empty")
        if not cdn_base_url:
            raise ValueError("cdn_base_url is empty")
        if not 1 <= batch_size <= MAX_FILES_PER_CALL:
            raise ValueError(f"batch_size={batch_size}: must be between 1 and {MAX_FILES_PER_CALL}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts={max_attempts}: must be at least 1")
        if min(backoff_base_seconds, backoff_max_seconds, max_retry_after_seconds) < 0:
            raise ValueError("backoff and Retry-After limits must not be negative")
        token = api_token if isinstance(api_token, SecretStr) else SecretStr(api_token)
        if not token.get_secret_value():
            raise ValueError("api_token is empty")
        self.zone_id = zone_id
        self._token = token
        self.cdn_base_url = cdn_base_url.rstrip("/")
        self.api_base = api_base.rstrip("/")
        self._client = client
        self._sleep = sleep
        self.max_attempts = max_attempts
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return (
            f"CloudflarePurger(zone_id={self.zone_id!r}, api_base={self.api_base!r}, "
            f"cdn_base_url={self.cdn_base_url!r}, api_token=SecretStr('**********'))"
        )

    @property
    def endpoint(self) -> str:
        """The zone's purge-cache URL."""
        return f"{self.api_base}/zones/{quote(self.zone_id, safe='')}/purge_cache"

    def url_of(self, key: str) -> str:
        """The CDN URL of a store key."""
        return f"{self.cdn_base_url}/{key}"

    # -- Purger ---------------------------------------------------------------------------

    def purge(self, keys: Sequence[str]) -> PurgeReport:
        """Purge every key's URL, batch by batch; `PurgeError` names those still cached."""
        unique = list(dict.fromkeys(keys))
        batches = list(chunked(unique, self.batch_size))
        requests = purged = failures = 0
        not_purged: list[str] = []
        problems: list[str] = []
        for number, batch in enumerate(batches, start=1):
            ok, calls, detail = self._purge_batch(batch)
            requests += calls
            if ok:
                purged += len(batch)
                continue
            failures += 1
            not_purged += batch
            problems.append(f"batch {number}/{len(batches)} ({len(batch)} URLs): {detail}")
        report = PurgeReport(urls=purged, requests=requests, failures=failures)
        if not_purged:
            # Info, not a warning: the error raised next says it, once, to whoever reports it.
            log.info(
                "Cloudflare purge: %d of %d URLs not purged in %d calls",
                len(not_purged),
                len(unique),
                requests,
            )
            raise PurgeError(not_purged, self._scrub("; ".join(problems)), report)
        if unique:
            log.info("Cloudflare purge: %d URLs purged in %d calls", purged, requests)
        return report

    # -- one batch ------------------------------------------------------------------------

    def _purge_batch(self, keys: Sequence[str]) -> tuple[bool, int, str]:
        """(purged, calls made, detail of the last failure). Retries (tenacity) only what
        `_call` marks retryable, waiting `Retry-After` or the backoff between attempts."""
        payload = {"files": [self.url_of(key) for key in keys]}
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}

        def wait(state: tenacity.RetryCallState) -> float:
            return self._delay(state.attempt_number, _outcome(state).wait)

        def warn(state: tenacity.RetryCallState) -> None:
            log.warning(
                "Cloudflare purge of %d URLs: %s; retrying in %.1f s (attempt %d of %d)",
                len(keys),
                self._scrub(_outcome(state).detail),
                state.upcoming_sleep,
                state.attempt_number + 1,
                self.max_attempts,
            )

        attempts = 0

        def call() -> _Outcome:
            nonlocal attempts
            attempts += 1
            return self._call(payload, headers)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=wait,
            retry=tenacity.retry_if_result(lambda outcome: outcome.retry),
            sleep=self._sleep,
            before_sleep=warn,
            retry_error_callback=_outcome,
        )
        outcome: _Outcome = retrying(call)
        if outcome.ok:
            return True, attempts, ""
        suffix = f" (after {attempts} attempts)" if outcome.retry else ""
        return False, attempts, outcome.detail + suffix

    def _call(self, payload: dict[str, list[str]], headers: dict[str, str]) -> _Outcome:
        try:
            response = self._client.post(self.endpoint, json=payload, headers=headers)
        except httpx.TransportError as error:
            return _Outcome(ok=False, retry=True, detail=f"{type(error).__name__}: {error}")
        except httpx.HTTPError as error:  # too many redirects, an undecodable body
            return _Outcome(ok=False, detail=f"{type(error).__name__}: {error}")
        status = response.status_code
        if status == 429:
            wait = _retry_after(response.headers.get("Retry-After"))
            return _Outcome(ok=False, retry=True, wait=wait, detail=_describe(response))
        if status >= 500:
            return _Outcome(ok=False, retry=True, detail=_describe(response))
        if status != 200:
            return _Outcome(ok=False, detail=_describe(response))
        body = _json_object(response)
        if body is None:
            return _Outcome(ok=False, detail=f"HTTP 200 without a JSON object: {_text(response)}")
        if body.get("success") is not True:
            return _Outcome(ok=False, detail=_describe(response, body))
        return _Outcome(ok=True)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_seconds)
        return min(self.backoff_base_seconds * 2.0 ** (attempt - 1), self.backoff_max_seconds)

    def _scrub(self, text: str) -> str:
        """Defence in depth: no echo of the token from a server reaches a log or an error."""
        secret = self._token.get_secret_value()
        return text.replace(secret, "**********") if secret else text


def _outcome(state: tenacity.RetryCallState) -> _Outcome:
    """The outcome of the attempt `state` describes (`_call` never raises)."""
    assert state.outcome is not None
    result: _Outcome = state.outcome.result()
    return result


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (Cloudflare sends seconds); None when absent or unreadable,
    so the backoff applies instead."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    if len(text) > _SHOWN_BODY_CHARS:
        text = text[:_SHOWN_BODY_CHARS] + "…"
    return repr(text) if text else "(empty body)"


def _describe(response: httpx.Response, body: dict[str, Any] | None = None) -> str:
    """`HTTP 400: <Cloudflare's error messages, with their codes>`."""
    if body is None:
        body = _json_object(response)
    head = f"HTTP {response.status_code}"
    if body is None:
        return f"{head}: {_text(response)}"
    messages: list[str] = []
    errors = body.get("errors")
    if isinstance(errors, list):
        for error in errors:
            if isinstance(error, dict) and error.get("message"):
                code = error.get("code")
                message = str(error["message"])
                messages.append(f"{message} (code {code})" if code is not None else message)
            elif isinstance(error, str):
                messages.append(error)
    if body.get("success") is False and not messages:
        messages.append("success=false, no error message")
    return f"{head}: {'; '.join(messages)}" if messages else head
