"""A fake Cloudflare API, as a real HTTP server on 127.0.0.1 (the real one is not reachable
from tests): `POST /client/v4/zones/{zone}/purge_cache` with `{"files": [...]}`.

It checks what it is sent as Cloudflare does: the bearer token (401), the zone (404), a JSON
object with a `files` list of 1 to 30 absolute http(s) URLs (400), each with `success: false`
and Cloudflare-shaped `errors`. Every call is recorded (files, headers) before it is checked.
Scripted replies answer the next calls in order, whatever they carry:

    cloudflare.rate_limit_next(1, retry_after="7")   # 429 + Retry-After: 7
    cloudflare.fail_next(2, status=500)              # 500, 500
    cloudflare.reject_next(1, "Invalid url")         # 200 + success: false
    cloudflare.pass_next(1)                          # answered normally
    cloudflare.hang_next(1, seconds=2.0)             # no answer for 2 s (a read timeout)
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import pytest

MAX_FILES = 30
_ROUTE = re.compile(r"^/client/v4/zones/(?P<zone>[^/?]+)/purge_cache$")


@dataclass(frozen=True, slots=True)
class Call:
    """One request the server received, recorded before any check."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: bytes
    files: list[str] | None
    """The `files` list when the body had one, else None."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer for one call: `status` with `success: false` and this error, or,
    when `status` is None, the normal answer (after `hang_seconds`)."""

    status: int | None = None
    message: str = ""
    code: int = 0
    retry_after: str | None = None
    hang_seconds: float = 0.0


@dataclass
class _State:
    zone_id: str
    token: str
    calls: list[Call] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    script: deque[Reply] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class FakeCloudflare:
    """Start with `with FakeCloudflare() as cloudflare:` (or `start()`/`stop()`)."""

    def __init__(self, *, zone_id: str | None = None, token: str | None = None) -> None:
        self._state = _State(
            zone_id=zone_id or secrets.token_hex(16),
            token=token or f"cf-test-{secrets.token_urlsafe(24)}",
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.state = self._state
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()  # releases any hanging call
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where it is ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake Cloudflare server is not started"
        return int(self._server.server_address[1])

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    @property
    def zone_id(self) -> str:
        return self._state.zone_id

    @property
    def token(self) -> str:
        return self._state.token

    # -- what it saw ----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._state.lock:
            return list(self._state.calls)

    @property
    def purged(self) -> list[str]:
        """URLs of every call answered with success, in order."""
        with self._state.lock:
            return list(self._state.purged)

    # -- scripting ------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._state.lock:
            self._state.script.extend(replies)

    def pass_next(self, n: int) -> None:
        self.script(*[Reply()] * n)

    def rate_limit_next(self, n: int, *, retry_after: str | None = "1") -> None:
        self.script(*[Reply(429, message="Rate limited", code=10000, retry_after=retry_after)] * n)

    def fail_next(self, n: int, *, status: int = 500) -> None:
        self.script(*[Reply(status, message="Internal server error", code=10001)] * n)

    def reject_next(self, n: int, message: str = "Purge rejected", *, code: int = 1012) -> None:
        """HTTP 200 with `success: false`."""
        self.script(*[Reply(200, message=message, code=code)] * n)

    def hang_next(self, n: int, *, seconds: float) -> None:
        self.script(*[Reply(hang_seconds=seconds)] * n)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timed out) is expected here, not a test failure."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: calls are recorded, not printed."""

    def do_GET(self) -> None:
        self._body()
        self._send(405, errors=[(10405, "Method not allowed")])

    def do_POST(self) -> None:
        state = self.server.state
        body = self._body()
        files = _files(body)
        call = Call(
            method="POST",
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            files=files,
        )
        with state.lock:
            state.calls.append(call)
            reply = state.script.popleft() if state.script else Reply()
        if reply.hang_seconds:
            state.stopping.wait(reply.hang_seconds)
        if reply.status is not None:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
            self._send(reply.status, errors=[(reply.code, reply.message)], headers=headers)
            return
        self._answer(call)

    def _answer(self, call: Call) -> None:
        state = self.server.state
        route = _ROUTE.match(call.path)
        if route is None:
            self._send(404, errors=[(7000, f"No route for that URI: {call.path}")])
            return
        if call.headers.get("authorization") != f"Bearer {state.token}":
            self._send(401, errors=[(10000, "Authentication error")])
            return
        if route["zone"] != state.zone_id:
            self._send(404, errors=[(7003, "Could not route to zone, invalid identifier")])
            return
        if not call.headers.get("content-type", "").startswith("application/json"):
            self._send(400, errors=[(6003, "Invalid request headers: Content-Type")])
            return
        if call.files is None:
            self._send(400, errors=[(1012, "Request must contain a 'files' list of strings")])
            return
        if not call.files:
            self._send(400, errors=[(1012, "Request must contain at least one file")])
            return
        if len(call.files) > MAX_FILES:
            self._send(400, errors=[(1015, f"Maximum of {MAX_FILES} files per request")])
            return
        bad = [url for url in call.files if not _is_absolute_url(url)]
        if bad:
            self._send(400, errors=[(1016, f"Invalid url: {bad[0]}")])
            return
        with state.lock:
            state.purged.extend(call.files)
        self._send(200)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        *,
        errors: list[tuple[int, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        document: dict[str, Any] = {
            "success": not errors,
            "errors": [{"code": code, "message": message} for code, message in errors or []],
            "messages": [],
            "result": None if errors else {"id": secrets.token_hex(16)},
        }
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _files(body: bytes) -> list[str] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def _is_absolute_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    """A fresh fake Cloudflare API per test (its own port, zone, token and call record)."""
    with FakeCloudflare() as server:
        yield server
