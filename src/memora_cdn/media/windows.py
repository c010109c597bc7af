"""Expiry windows of signed media URLs, and the cache lifetime and rebuild deadline of a lesson
holding them. Design notes: docs/decisions/signed-url-windows.md"""

from __future__ import annotations

from dataclasses import dataclass

REQUEUE_SLACK_SECONDS = 900
"""Default time allowed between a plan's requeue deadline and its rebuilt files being live:
waiting in the queue (a batch runs every `batch_interval_minutes`, 5 by default), building,
uploading and purging."""

_HOUR = 3600


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

    def describe(self) -> str:
        """The window's two figures as a signer's repr shows them."""
        return f"expiry_seconds={self.expiry_seconds}, window_seconds={self.window_seconds}"

    def start(self, now: int) -> int:
        """The start of the window `now` falls in (a multiple of the window since the epoch)."""
        return now - now % self.window_seconds

    def expires_at(self, now: int) -> int:
        return self.start(now) + self.expiry_seconds

    @property
    def min_validity(self) -> int:
        """Every URL signed at `now` is still valid at `now + min_validity`."""
        return self.expiry_seconds - self.window_seconds


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
