"""Who may use the admin surface (SPEC §9): the bearer token, the dashboard's session cookie,
and the CSRF checks on state-changing requests (see docs/decisions/dashboard-auth.md)."""

from __future__ import annotations

import hashlib
import hmac
from enum import Enum
from urllib.parse import urlsplit

from starlette.requests import Request

SESSION_COOKIE = "memora_cdn_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SESSION_LABEL = b"memora-cdn dashboard session v1"
_CSRF_LABEL = b"memora-cdn dashboard csrf v1"


def derive(token: str, label: bytes) -> str:
    """HMAC-SHA256 of a fixed label keyed by the admin token: a value that proves knowledge
    of the token without holding it (the token cannot be recovered from it)."""
    return hmac.new(token.encode(), label, hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Whether two secrets are equal, compared in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


class Credential(Enum):
    """How a request proved it may use the admin surface."""

    OPEN = "open"
    """No admin_token is set (`serve` then listens on the loopback only)."""
    BEARER = "bearer"
    COOKIE = "cookie"


class Gate:
    """The admin token's checks: bearer header, session cookie, CSRF token and origin."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.session = derive(token, _SESSION_LABEL) if token else None
        self.csrf = derive(token, _CSRF_LABEL) if token else ""

    def token_matches(self, given: str) -> bool:
        return self.token is not None and same(given, self.token)

    def credential(self, request: Request) -> Credential | None:
        """How this request is allowed in, or None when it is not."""
        if self.token is None:
            return Credential.OPEN
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and same(given.strip(), self.token):
            return Credential.BEARER
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie is not None and self.session is not None and same(cookie, self.session):
            return Credential.COOKIE
        return None

    def csrf_problem(
        self, request: Request, credential: Credential, form_token: str | None = None
    ) -> str | None:
        """Why a state-changing request must be refused as possible cross-site forgery, or
        None. Bearer requests carry no ambient credential and pass; any other must come from
        this origin, and a cookie-authenticated one must also carry the CSRF token (header
        `X-CSRF-Token`, or the form field `csrf_token`)."""
        if request.method in SAFE_METHODS or credential is Credential.BEARER:
            return None
        if not same_origin(request):
            return "cross-site request refused"
        if credential is Credential.COOKIE:
            given = request.headers.get(CSRF_HEADER) or form_token or ""
            if not same(given, self.csrf):
                return "missing or wrong CSRF token"
        return None


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site: `Sec-Fetch-Site`
    other than same-origin/none, or an `Origin` whose host differs from `Host`. Requests
    without either header (curl, scripts) are not browser forgeries and pass."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
