"""`GET /` the dashboard (SPEC §9): server-rendered pages over `operations`, its login and
logout, the panels fragment its script refreshes, and its static files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from memora_cdn import operations
from memora_cdn.app import App
from memora_cdn.http import views
from memora_cdn.http.auth import CSRF_FIELD, SESSION_COOKIE, Gate, same_origin

RECENT_SYNCS = 15
FAILURE_DAYS = 7
CHART_BUILDS = 40
EXPIRY_WINDOW_SECONDS = 2 * 3600
"""Signed URLs expiring within this are "expiring soon"."""
REFRESH_SECONDS = 5
MAX_LOGIN_BYTES = 4096
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_environment = Environment(
    loader=PackageLoader("memora_cdn.http", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.globals.update(
    badges=views.badges, access_filter=views.access_filter, size=views.size, within=views.within
)
templates = Jinja2Templates(env=_environment)


def panels(application: App) -> dict[str, Any]:
    """Everything the refreshing part of the dashboard shows, read once."""
    now = application.now()
    recent = application.state.sync_log(limit=RECENT_SYNCS)
    plans = operations.plan_publications(application)
    for plan in plans:
        published = plan["last_published_at"]
        plan["ago"] = views.ago(_parse(published), now) if published else "never"
    return {
        "now": now,
        "ago": lambda at: views.ago(at, now),
        "status": operations.queue_status(application),
        "recent": recent,
        "failures": operations.failures(application, FAILURE_DAYS, 20),
        "failure_days": FAILURE_DAYS,
        "dead_letters": application.queue.dead_letters(),
        "plans": plans,
        "chart": views.build_chart(application.state.sync_log(limit=CHART_BUILDS, finished=True)),
        "chart_row": views.CHART_ROW,
        "expiring": operations.expiring_signed_urls(application, EXPIRY_WINDOW_SECONDS),
        "expiry_hours": EXPIRY_WINDOW_SECONDS // 3600,
        "purges": operations.pending_purges(application),
        "taken": views.seconds_taken,
    }


def explorer(application: App, plans: list[dict[str, Any]], wanted: str | None) -> dict[str, Any]:
    """The plan explorer: the published plans to pick from and the chosen plan's tree."""
    choices = [p["plan_id"] for p in plans if p["files"]]
    plan = wanted if wanted in choices else (choices[0] if choices else None)
    tree = operations.plan_tree(application, plan) if plan else None
    return {
        "choices": choices,
        "plan": plan,
        "tree": tree,
        "summary": views.tree_summary(tree) if tree else None,
    }


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def dashboard_routes(application: App, gate: Gate) -> list[BaseRoute]:
    """The dashboard's pages, login and logout, panels fragment and static files."""

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        context = {
            "protected": gate.token is not None,
            "csrf_token": gate.csrf,
            "refresh_seconds": REFRESH_SECONDS,
            **context,
        }
        return templates.TemplateResponse(
            request, name, context, status_code=status, headers=HEADERS
        )

    def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        return page(request, "login.html", {"error": error}, status)

    async def index(request: Request) -> Response:
        if gate.credential(request) is None:
            return login_page(request)
        wanted = request.query_params.get("plan")

        def read() -> dict[str, Any]:
            shown = panels(application)
            return {**shown, "explorer": explorer(application, shown["plans"], wanted)}

        return page(request, "dashboard.html", await run_in_threadpool(read))

    async def fragment(request: Request) -> Response:
        if gate.credential(request) is None:
            return Response("sign in again", status_code=401, headers=HEADERS)
        shown = await run_in_threadpool(panels, application)
        return page(request, "_panels.html", shown)

    async def login(request: Request) -> Response:
        if gate.token is None:
            return RedirectResponse("/", status_code=303)
        if not same_origin(request):
            return login_page(request, "Sign in from this dashboard's own page.", 403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BYTES:
                return login_page(request, "That is not an admin token.", 413)
        given = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0].strip()
        if not gate.token_matches(given):
            return login_page(request, "Wrong admin token.", 401)
        response = RedirectResponse("/", status_code=303)
        assert gate.session is not None
        response.set_cookie(
            SESSION_COOKIE,
            gate.session,
            httponly=True,
            samesite="strict",
            path="/",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        credential = gate.credential(request)
        if credential is None:
            return login_page(request, status=401)
        form = parse_qs((await request.body())[:MAX_LOGIN_BYTES].decode("utf-8", "replace"))
        problem = gate.csrf_problem(request, credential, form.get(CSRF_FIELD, [""])[0])
        if problem is not None:
            return Response(f"{problem}; nothing was changed", status_code=403, headers=HEADERS)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    static = StaticFiles(directory=Path(__file__).parent / "static")
    return [
        Route("/", index, methods=["GET"]),
        Route("/dashboard/panels", fragment, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", app=static, name="static"),
    ]
