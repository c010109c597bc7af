"""A real S3 protocol server for tests, and a fault-injecting proxy in front of it.

`MotoS3Server` runs moto's server mode on a free loopback port in a background thread: boto3
talks HTTP to it exactly as it talks to S3 or R2 in production (signing, XML, retries).

`S3FaultProxy` is a small HTTP server that forwards every request to that server unchanged,
and on the way counts what it sees, per key, and injects faults:

- `fail_puts(nth=N)`: the N-th object PUT from now is answered `500 InternalError` without
  reaching the server (with `times=T`, that key's next T-1 PUTs fail too, so a retry of it
  fails again); `fail_puts(key=K, times=T)`: the next T PUTs of key K fail; `times=None`:
  every one of them, for good.
- `refuse_deletes(K, …)`: a DeleteObjects batch naming K deletes the others and reports K in
  its `Errors` (AccessDenied), as S3 does for a key it will not delete.

Counters (all since start or `reset()`): `puts[key]` (object PUTs received, failed ones
included), `deletes[key]` (keys named in DeleteObjects batches and single DELETEs),
`delete_batches` (the keys of each DeleteObjects call), `failed_puts` (keys, in order),
`requests` (every request). Keys are as S3 sees them: the store prefix included, unquoted.

Both run on 127.0.0.1 only. Use them as context managers, or through the fixtures in
`tests/store/conftest.py`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import logging
import secrets
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pytest
from moto.server import ThreadedMotoServer

from memora_cdn.store.s3 import S3Store, s3_client

__all__ = [
    "TEST_CREDENTIALS",
    "MotoS3Server",
    "S3FaultProxy",
    "SeenRequest",
    "client_for",
    "new_bucket",
    "s3_stack",
    "s3_store",
]

TEST_CREDENTIALS = ("memora-test-access", "memora-test-secret")
REGION = "us-east-1"

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)


class MotoS3Server:
    """moto's S3 server on a free 127.0.0.1 port; `endpoint` is its URL once started."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def start(self) -> Self:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class SeenRequest:
    method: str
    bucket: str | None
    key: str | None
    query: str
    status: int


@dataclass(slots=True)
class _PutFault:
    nth: int | None
    key: str | None
    remaining: int | None
    status: int
    code: str


class S3FaultProxy:
    """Forwards to `upstream` (an S3 endpoint URL), counting requests and injecting faults."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._put_faults: list[_PutFault] = []
        self._refused: set[str] = set()
        self._puts_seen = 0
        self.puts: Counter[str] = Counter()
        self.deletes: Counter[str] = Counter()
        self.delete_batches: list[tuple[str, ...]] = []
        self.failed_puts: list[str] = []
        self.requests: list[SeenRequest] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="s3-fault-proxy",
            daemon=True,
        )
        host, port = self._httpd.server_address[:2]
        self.endpoint = f"http://{host!s}:{port}"

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults and counters ------------------------------------------------------------

    def fail_puts(
        self,
        *,
        nth: int | None = None,
        key: str | None = None,
        times: int | None = 1,
        status: int = 500,
        code: str = "InternalError",
    ) -> None:
        """Fail the `nth` object PUT from now, or the PUTs of `key`; see the module doc."""
        if (nth is None) == (key is None):
            raise ValueError("give nth or key")
        with self._lock:
            target = None if nth is None else self._puts_seen + nth
            self._put_faults.append(_PutFault(target, key, times, status, code))

    def refuse_deletes(self, *keys: str) -> None:
        with self._lock:
            self._refused.update(keys)

    def reset(self) -> None:
        """Forget faults and counters."""
        with self._lock:
            self._put_faults.clear()
            self._refused.clear()
            self.puts.clear()
            self.deletes.clear()
            self.delete_batches.clear()
            self.failed_puts.clear()
            self.requests.clear()

    def count(self, method: str) -> int:
        """How many requests of this HTTP method arrived."""
        with self._lock:
            return sum(1 for r in self.requests if r.method == method)

    # -- called by the handler (any thread) ---------------------------------------------

    def _put_fault(self, key: str) -> _PutFault | None:
        with self._lock:
            self._puts_seen += 1
            self.puts[key] += 1
            for fault in self._put_faults:
                if fault.nth is not None and fault.nth == self._puts_seen:
                    fault.nth, fault.key = None, key  # from now on it follows this key
                elif fault.key != key or fault.nth is not None:
                    continue
                if fault.remaining is not None:
                    if fault.remaining <= 0:
                        continue
                    fault.remaining -= 1
                self.failed_puts.append(key)
                return fault
            return None

    def _note_batch(self, keys: list[str]) -> set[str]:
        with self._lock:
            self.delete_batches.append(tuple(keys))
            self.deletes.update(keys)
            return {key for key in keys if key in self._refused}

    def _note_delete(self, key: str) -> None:
        with self._lock:
            self.deletes[key] += 1

    def _note(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_for(proxy: S3FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stalls

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            self._handle()

        def do_HEAD(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            segments = unquote(parts.path).lstrip("/").split("/", 1)
            bucket = segments[0] or None
            key = segments[1] if len(segments) > 1 and segments[1] else None
            query = parse_qs(parts.query, keep_blank_values=True)
            query.pop("x-id", None)
            body = self._body()
            status = self._dispatch(key, query, body)
            proxy._note(SeenRequest(self.command, bucket, key, parts.query, status))

        def _dispatch(self, key: str | None, query: dict[str, list[str]], body: bytes) -> int:
            if self.command == "PUT" and key is not None and not query:
                fault = proxy._put_fault(key)
                if fault is not None:
                    return self._error(fault.status, fault.code, "injected failure")
            elif self.command == "DELETE" and key is not None and not query:
                proxy._note_delete(key)
            elif self.command == "POST" and key is None and "delete" in query:
                return self._batch_delete(body)
            return self._forward(body)

        def _batch_delete(self, body: bytes) -> int:
            root = ElementTree.fromstring(body)
            namespace = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""
            objects = root.findall(f"{namespace}Object")
            keys = [obj.findtext(f"{namespace}Key") or "" for obj in objects]
            refused = proxy._note_batch(keys)
            if not refused:
                return self._forward(body)
            quiet = root.findtext(f"{namespace}Quiet") or "false"
            kept = "".join(
                f"<Object><Key>{escape(key)}</Key></Object>" for key in keys if key not in refused
            )
            xmlns = f' xmlns="{namespace[1:-1]}"' if namespace else ""
            errors = "".join(
                f"<Error><Key>{escape(key)}</Key><Code>AccessDenied</Code>"
                "<Message>injected refusal</Message></Error>"
                for key in keys
                if key in refused
            )
            if not kept:
                xml = '<?xml version="1.0" encoding="UTF-8"?>'
                xml += f"<DeleteResult{xmlns}>{errors}</DeleteResult>"
                return self._reply(200, {"Content-Type": "application/xml"}, xml.encode())
            rewritten = f"<Delete{xmlns}><Quiet>{quiet}</Quiet>{kept}</Delete>".encode()
            status, headers, answer = self._upstream(rewritten)
            if status == 200:
                answer = answer.replace(b"</DeleteResult>", errors.encode() + b"</DeleteResult>")
            return self._reply(status, headers, answer)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    chunk = self.rfile.read(size)
                    self.rfile.readline()
                    if size == 0:
                        break
                    chunks.append(chunk)
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _forward(self, body: bytes) -> int:
            status, headers, answer = self._upstream(body)
            return self._reply(status, headers, answer)

        def _upstream(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or self.command in ("PUT", "POST"):
                headers = _with_body_checksums(headers, body)
            connection = http.client.HTTPConnection(*proxy._upstream, timeout=60)
            try:
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                kept = {
                    k: v
                    for k, v in response.getheaders()
                    if k.lower() not in _HOP_BY_HOP | {"server", "date"}
                }
                return response.status, kept, answer
            finally:
                connection.close()

        def _error(self, status: int, code: str, message: str) -> int:
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
                f"<RequestId>{secrets.token_hex(8)}</RequestId></Error>"
            )
            return self._reply(status, {"Content-Type": "application/xml"}, xml.encode())

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> int:
            self.send_response(status)
            length = None
            for name, value in headers.items():
                if name.lower() == "content-length":
                    length = value
                    continue
                self.send_header(name, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", length or "0")
                self.end_headers()
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            return status

    return Handler


def _with_body_checksums(headers: dict[str, str], body: bytes) -> dict[str, str]:
    """Headers whose length and checksums describe `body` (after a rewrite, or a de-chunk)."""
    fixed: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower == "content-length":
            continue
        if lower == "content-md5":
            value = base64.b64encode(hashlib.md5(body).digest()).decode()
        elif lower == "x-amz-checksum-crc32":
            value = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        elif lower == "x-amz-content-sha256" and len(value) == 64:
            value = hashlib.sha256(body).hexdigest()
        fixed[name] = value
    fixed["Content-Length"] = str(len(body))
    return fixed


# -- helpers for tests ------------------------------------------------------------------


@functools.cache
def client_for(endpoint: str, *, max_attempts: int = 10, pool: int = 32) -> Any:
    """A client built exactly as production builds it, with the test credentials.

    Cached per arguments (clients are thread-safe; building one takes a few tenths of a second).
    """
    access, secret = TEST_CREDENTIALS
    return s3_client(endpoint, REGION, access, secret, pool, max_attempts=max_attempts)


def new_bucket(endpoint: str) -> str:
    """A fresh, empty bucket with a random name."""
    name = f"memora-{secrets.token_hex(6)}"
    client_for(endpoint).create_bucket(Bucket=name)
    return name


def s3_store(
    endpoint: str, bucket: str, prefix: str = "", *, max_attempts: int = 10, page_size: int = 1000
) -> S3Store:
    """An `S3Store` on `endpoint` (the server, or a proxy in front of it)."""
    client = client_for(endpoint, max_attempts=max_attempts)
    return S3Store(client, bucket, prefix, redact=TEST_CREDENTIALS, page_size=page_size)


@contextmanager
def s3_stack() -> Iterator[tuple[MotoS3Server, S3FaultProxy]]:
    """A moto server and a proxy in front of it, both stopped afterwards."""
    with MotoS3Server() as server, S3FaultProxy(server.endpoint) as proxy:
        yield server, proxy


# -- fixtures (registered for the whole suite by tests/conftest.py) -----------------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    with MotoS3Server() as server:
        yield server


@pytest.fixture(scope="session")
def _session_s3_proxy(s3_server: MotoS3Server) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(s3_server.endpoint) as proxy:
        yield proxy


@pytest.fixture
def s3_proxy(_session_s3_proxy: S3FaultProxy) -> Iterator[S3FaultProxy]:
    """The proxy in front of the server, with no faults and its counters at zero.

    One proxy serves the whole session (reset around each test), so the cached client of its
    endpoint, and that client's connections, are reused instead of built per test.
    """
    _session_s3_proxy.reset()
    yield _session_s3_proxy
    _session_s3_proxy.reset()


@pytest.fixture
def s3_bucket(s3_server: MotoS3Server) -> str:
    return new_bucket(s3_server.endpoint)


@pytest.fixture
def s3_direct(s3_server: MotoS3Server) -> Any:
    """A client straight to the server (not counted by the proxy), for looking behind a store."""
    return client_for(s3_server.endpoint)
