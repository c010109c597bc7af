"""The admin API (SPEC §9): JSON over the same state, queue and intake as the CLI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from memora_cdn.app import App

Handler = Callable[[Request], Awaitable[Response]]


def api_routes(application: App) -> list[tuple[str, Handler, list[str]]]:
    return []
