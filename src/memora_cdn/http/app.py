"""The ASGI application of `memora-cdn serve`, built from the command's `App` (SPEC §9)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from memora_cdn.app import App
from memora_cdn.http.api import api_routes, cdn_route
from memora_cdn.http.metrics import metrics_route
from memora_cdn.http.webhook import FrappeWebhook

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

Handler = Callable[[Request], Awaitable[Response]]


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def authorized(request: Request, token: str | None) -> bool:
    """True when no admin_token is set (loopback only, see `serve`) or the request carries
    it as `Authorization: Bearer <token>`, compared in constant time."""
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def admin(token: str | None, handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        if not authorized(request, token):
            return JSONResponse(
                {"error": "missing or wrong admin token (Authorization: Bearer …)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    return guarded


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_http_app(application: App) -> Starlette:
    settings = application.settings
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/hooks/frappe", FrappeWebhook(application.intake, secret).handle, methods=["POST"]),
        *(
            Route(path, admin(token, handler), methods=methods)
            for path, handler, methods in api_routes(application)
        ),
        Route("/metrics", admin(token, metrics_route(application)), methods=["GET"]),
        Route("/cdn/{key:path}", cdn_route(application), methods=["GET"]),
    ]
    return Starlette(routes=routes)
