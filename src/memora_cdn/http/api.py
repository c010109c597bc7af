"""The admin API (SPEC §9): JSON over the same state, queue and intake as the CLI, through
`memora_cdn.operations`. Blocking database work runs in Starlette's thread pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from memora_cdn import operations
from memora_cdn.app import App
from memora_cdn.core.model import SyncStatus
from memora_cdn.errors import StoreError
from memora_cdn.store.base import JSON_CONTENT_TYPE

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")

MAX_LIMIT = 500
"""`limit` is capped here, whatever is asked."""
MAX_DAYS = 365


class BadInput(ValueError):
    """A query parameter the API cannot use: answered 400 with the message."""


def _int(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    """A query parameter as an integer, capped at `highest`; 400 when not an integer ≥ lowest."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadInput(f"{name} must be an integer, not {text!r}") from None
    if value < lowest:
        raise BadInput(f"{name} must be at least {lowest}, not {value}")
    return min(value, highest)


def _status(request: Request) -> SyncStatus | None:
    text = request.query_params.get("status")
    if text is None:
        return None
    for status in SyncStatus:
        if text.lower() in (status.value.lower(), status.name.lower()):
            return status
    shown = ", ".join(s.value for s in SyncStatus)
    raise BadInput(f"status must be one of {shown}, not {text!r}")


def error(status: int, message: str) -> JSONResponse:
    """The API's error answer: `{"error": message}` with that HTTP status."""
    return JSONResponse({"error": message}, status_code=status)


def api_routes(application: App) -> list[tuple[str, Handler, list[str]]]:
    """The `/api/*` routes over `application`: (path, handler, methods)."""

    async def blocking(function: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(function, *args)

    async def status(_request: Request) -> Response:
        return JSONResponse(await blocking(operations.queue_status, application))

    async def sync_log(request: Request) -> Response:
        try:
            limit = _int(request, "limit", 50, 1, MAX_LIMIT)
            wanted = _status(request)
        except BadInput as problem:
            return error(400, str(problem))
        plan = request.query_params.get("plan") or None

        def rows() -> list[dict[str, Any]]:
            entries = application.state.sync_log(plan=plan, status=wanted, limit=limit)
            return [operations.sync_entry_json(e) for e in entries]

        return JSONResponse({"entries": await blocking(rows)})

    async def failures(request: Request) -> Response:
        try:
            days = _int(request, "days", 7, 1, MAX_DAYS)
            limit = _int(request, "limit", 50, 1, MAX_LIMIT)
        except BadInput as problem:
            return error(400, str(problem))

        def rows() -> list[dict[str, Any]]:
            entries = operations.failures(application, days, limit)
            return [operations.sync_entry_json(e) for e in entries]

        return JSONResponse({"days": days, "entries": await blocking(rows)})

    async def dead_letters(_request: Request) -> Response:
        letters = await blocking(application.queue.dead_letters)
        return JSONResponse(
            {
                "dead_letters": [
                    {
                        "plan": letter.plan,
                        "attempts": letter.attempts,
                        "last_error": letter.last_error,
                        "failed_at": operations.iso(letter.failed_at),
                    }
                    for letter in letters
                ]
            }
        )

    async def retry(request: Request) -> Response:
        plan = request.path_params["plan"]
        if not await blocking(operations.retry_dead_letter, application, plan):
            return error(404, f"{plan!r} is not in the dead letter")
        return JSONResponse({"plan": plan, "status": "queued"}, status_code=202)

    async def clear(request: Request) -> Response:
        plan = request.path_params["plan"]
        if not await blocking(application.queue.clear_dead, plan):
            return error(404, f"{plan!r} is not in the dead letter")
        return JSONResponse({"plan": plan, "status": "cleared"})

    async def rebuild(request: Request) -> Response:
        plan = request.path_params["plan"]
        scheduled = await blocking(operations.rebuild_plan, application, plan)
        if scheduled is None:
            return error(404, f"no plan named {plan!r}")
        state = "queued" if scheduled else "already queued"
        return JSONResponse({"plan": plan, "status": state}, status_code=202)

    async def plans(_request: Request) -> Response:
        return JSONResponse({"plans": await blocking(operations.plan_publications, application)})

    async def tree(request: Request) -> Response:
        plan = request.path_params["plan"]
        resolved = await blocking(operations.plan_tree, application, plan)
        if resolved is None:
            return error(404, f"no published plan named {plan!r}")
        return JSONResponse(resolved)

    return [
        ("/api/status", status, ["GET"]),
        ("/api/sync-log", sync_log, ["GET"]),
        ("/api/failures", failures, ["GET"]),
        ("/api/dead-letter", dead_letters, ["GET"]),
        ("/api/dead-letter/{plan}/retry", retry, ["POST"]),
        ("/api/dead-letter/{plan}", clear, ["DELETE"]),
        ("/api/plans", plans, ["GET"]),
        ("/api/plans/{plan}/rebuild", rebuild, ["POST"]),
        ("/api/plans/{plan}/tree", tree, ["GET"]),
    ]


def cdn_route(application: App) -> Handler:
    """`GET /cdn/{key}` (open): a published file, with the Content-Type and Cache-Control it
    was published with; 404 for anything else, including keys that would leave the store."""
    options = application.publisher.options

    def lookup(key: str) -> tuple[bytes, str] | None:
        try:
            body = application.store.get(key)
        except StoreError:
            return None
        if body is None or not key.endswith(".json"):
            return None
        parts = key.split("/")
        manifest = key == "plans.json" or (len(parts) == 3 and parts[2] == "manifest.json")
        seconds = options.manifest_cache_seconds if manifest else options.document_cache_seconds
        if len(parts) >= 3 and parts[0] == "plans":
            entry = application.state.published(application.store.identity, parts[1]).get(key)
            if entry is not None and entry.expires_at is not None:
                left = (
                    entry.expires_at - int(application.clock()) - options.signed_url_margin_seconds
                )
                seconds = min(seconds, max(0, left))
        return body, f"public, max-age={seconds}"

    async def serve(request: Request) -> Response:
        key = request.path_params["key"]
        found = await run_in_threadpool(lookup, key)
        if found is None:
            return error(404, "not found")
        body, cache_control = found
        return Response(
            body, media_type=JSON_CONTENT_TYPE, headers={"Cache-Control": cache_control}
        )

    return serve
