"""The ASGI application of `memora-cdn serve`, built from the command's `App` (SPEC §9)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from memora_cdn.app import App
from memora_cdn.http.api import api_routes, cdn_route
from memora_cdn.http.auth import Gate
from memora_cdn.http.dashboard import dashboard_routes
from memora_cdn.http.metrics import metrics_route
from memora_cdn.http.webhook import FrappeWebhook

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

Handler = Callable[[Request], Awaitable[Response]]


def is_loopback(host: str) -> bool:
    """Whether `host` is on the loopback (served without an admin token)."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def admin(gate: Gate, handler: Handler) -> Handler:
    """The handler behind the admin token (bearer or the dashboard's session cookie); a
    state-changing request that may be a cross-site forgery is refused 403."""

    async def guarded(request: Request) -> Response:
        credential = gate.credential(request)
        if credential is None:
            return JSONResponse(
                {"error": "missing or wrong admin token (Authorization: Bearer …)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        problem = gate.csrf_problem(request, credential)
        if problem is not None:
            return JSONResponse({"error": f"{problem}; nothing was changed"}, status_code=403)
        return await handler(request)

    return guarded


async def healthz(_request: Request) -> Response:
    """`GET /healthz`: the process answers."""
    return JSONResponse({"status": "ok"})


def create_http_app(application: App) -> Starlette:
    """The ASGI application: health check, webhook, admin API, metrics and dashboard."""
    settings = application.settings
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    gate = Gate(token)
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/hooks/frappe", FrappeWebhook(application.intake, secret).handle, methods=["POST"]),
        *(
            Route(path, admin(gate, handler), methods=methods)
            for path, handler, methods in api_routes(application)
        ),
        Route("/metrics", admin(gate, metrics_route(application)), methods=["GET"]),
        Route("/cdn/{key:path}", cdn_route(application), methods=["GET"]),
        *dashboard_routes(application, gate),
    ]
    return Starlette(routes=routes)
