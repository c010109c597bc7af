"""Running the HTTP app under uvicorn for `serve` and `demo --serve`: one code path, a URL
announced once the port is bound, and a clean stop (exit 0) on SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

import uvicorn

from memora_cdn.app import App
from memora_cdn.errors import OpenServerError
from memora_cdn.http.app import create_http_app, is_loopback
from memora_cdn.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def check_host(settings: Settings, host: str) -> None:
    """`OpenServerError` for a host other than the loopback when no admin_token is set."""
    if settings.admin_token is None and not is_loopback(host):
        raise OpenServerError(host)


def url_of(host: str, port: int) -> str:
    """The URL a browser opens for `host` and `port`."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve_app(
    application: App, host: str, port: int, announce: Callable[[str], None] = print
) -> None:
    """Serve until SIGTERM or Ctrl-C, then return once requests in hand are answered.

    The socket is bound first, so `announce` is told the real URL (`port` 0 picks a free
    one). uvicorn re-raises the stop signal after its shutdown; the handlers installed here
    take it, so the command ends normally (exit 0) and its caller closes the app."""
    config = uvicorn.Config(create_http_app(application), host=host, port=port, log_level="info")
    server = uvicorn.Server(config)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True  # a signal before uvicorn took over: start, then stop

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        sock = config.bind_socket()
        sock.listen(config.backlog)  # connections made once the URL is out wait for uvicorn
        try:
            announce(url_of(host, sock.getsockname()[1]))
            server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
