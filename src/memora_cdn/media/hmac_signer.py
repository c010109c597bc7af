"""The media base a signer signs under, and the HMAC signer (`signer=hmac`, SPEC §3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import urlunsplit

from pydantic import SecretStr

from memora_cdn.media.base import MediaBase, SignedUrl
from memora_cdn.media.windows import ExpiryWindow

_SIGNED_PARAMS = frozenset({"exp", "sig"})
_EXP = re.compile(r"[0-9]{1,12}")


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
            f"HmacSigner(media_base_url={self.base.url!r}, secret='***', {self.window.describe()})"
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
