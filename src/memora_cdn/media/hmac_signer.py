"""The media base a signer signs under, and the HMAC signer (`signer=hmac`, SPEC §3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from pydantic import SecretStr

from memora_cdn.media.base import SignedUrl
from memora_cdn.media.windows import ExpiryWindow

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SIGNED_PARAMS = frozenset({"exp", "sig"})
_EXP = re.compile(r"[0-9]{1,12}")


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
    return parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme.lower())


class HmacSigner:
    """`?exp=<unix>&sig=<base64url(HMAC-SHA256(secret, path + exp)), unpadded>`.

    `path` is the URL's path exactly as written in it (percent-encoding kept, not decoded), and
    `exp` its decimal digits. An existing query's parameters are kept as written, minus any
    `exp`/`sig` ones (so signing a signed URL re-signs it), and `exp`/`sig` are appended after it;
    the query is *not* covered by the signature. A fragment is kept. A media server checks a
    request with `verify`, or with the same recipe: `exp` not passed, `sig` equal.
    """

    __slots__ = ("_secret", "base", "window")

    def __init__(
        self,
        media_base_url: str,
        secret: str | SecretStr,
        expiry_hours: int,
        window_seconds: int | None = None,
    ) -> None:
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not raw:
            raise ValueError("the signing secret is empty")
        self._secret = raw.encode("utf-8")
        self.base = MediaBase.parse(media_base_url, frozenset({"http", "https"}))
        self.window = ExpiryWindow.of(expiry_hours, window_seconds)

    def __repr__(self) -> str:
        return (
            f"HmacSigner(media_base_url={self.base.url!r}, secret='***', "
            f"expiry_seconds={self.window.expiry_seconds}, "
            f"window_seconds={self.window.window_seconds})"
        )

    def sign(self, url: str, now: int) -> SignedUrl | None:
        parts = self.base.match(url)
        if parts is None:
            return None
        exp = self.window.expires_at(now)
        kept = [p for p in parts.query.split("&") if p and _param(p) not in _SIGNED_PARAMS]
        query = "&".join([*kept, f"exp={exp}", f"sig={self._sig(parts.path, str(exp))}"])
        return SignedUrl(urlunsplit(parts._replace(query=query)), exp)

    def verify(self, url: str, now: int) -> bool:
        """Whether `url` is under the media base, carries exactly one `exp` and one `sig`, has
        not expired at `now` (it works up to and including second `exp`), and its signature
        matches (compared in constant time)."""
        parts = self.base.match(url)
        if parts is None:
            return False
        found: dict[str, list[str]] = {"exp": [], "sig": []}
        for pair in parts.query.split("&"):
            name = _param(pair)
            if name in found:
                found[name].append(pair.partition("=")[2])
        if len(found["exp"]) != 1 or len(found["sig"]) != 1:
            return False
        (exp_text,), (sig,) = found["exp"], found["sig"]
        if not _EXP.fullmatch(exp_text) or now > int(exp_text):
            return False
        expected = self._sig(parts.path, exp_text).encode("ascii")
        return hmac.compare_digest(expected, sig.encode("utf-8"))

    def _sig(self, path: str, exp: str) -> str:
        """Over the texts as they appear in the URL: a `exp` with leading zeros fails."""
        digest = hmac.new(self._secret, (path + exp).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _param(pair: str) -> str:
    return pair.partition("=")[0]
