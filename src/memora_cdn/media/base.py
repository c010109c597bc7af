"""The signer protocol: media URLs in stage configs become time-limited signed URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SignedUrl:
    """A signed URL and when it stops working."""

    url: str
    expires_at: int
    """Unix seconds after which the URL stops working."""


class Signer(Protocol):
    """Turns media URLs into time-limited signed URLs (none, hmac, s3)."""

    def sign(self, url: str, now: int) -> SignedUrl | None:
        """The signed form of `url` valid from `now`, or None when `url` is not media this
        signer signs (another host or bucket). Pure given `now`: signing twice within one
        expiry window gives identical URLs, so re-renders do not change a lesson's bytes."""
        ...


class NoSigner:
    """`signer=none`: signs nothing."""

    def sign(self, url: str, now: int) -> SignedUrl | None:
        return None
