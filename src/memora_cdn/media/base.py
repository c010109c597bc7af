"""The signer protocol: media URLs in stage configs become time-limited signed URLs; and the
media base URL a signer signs under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
"""The port a URL of each scheme has when it names none."""


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
    return parts.port if parts.port is not None else DEFAULT_PORTS.get(parts.scheme.lower())
