"""`memora-cdn serve`: the admin API, the Frappe webhook and /healthz over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from memora_cdn.commands.context import out, running, with_settings

if TYPE_CHECKING:
    from memora_cdn.app import App
    from memora_cdn.settings import Settings


@with_settings
def serve(
    settings: Settings,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
) -> None:
    """Serve the admin API, the Frappe webhook and /healthz over HTTP (SIGTERM stops it).

    Example: memora-cdn serve --port 8000
    """
    from memora_cdn.http.server import check_host

    check_host(settings, host)
    with running(settings) as application:
        serve_announced(application, host, port)


def serve_announced(application: App, host: str, port: int) -> None:
    """`serve`, and `demo --serve` after its publish: the same server, its URL announced."""
    from memora_cdn.http.server import serve_app

    def announce(url: str) -> None:
        out.print(f"Serving on {url} (Ctrl-C stops it)", markup=False, highlight=False)

    serve_app(application, host, port, announce)
    out.print("Stopped.")
