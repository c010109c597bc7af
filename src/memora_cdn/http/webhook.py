"""The Frappe webhook, `POST /hooks/frappe` (SPEC §9): signed, size-capped, into `Intake`.
Design notes: docs/decisions/webhook.md"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from memora_cdn.core.events import Action, ChangeEvent, parse_doctype
from memora_cdn.core.model import Trigger
from memora_cdn.errors import UnknownDoctypeError
from memora_cdn.sync.intake import Intake

log = logging.getLogger("memora_cdn.http.webhook")

MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_HEADER = "X-Frappe-Webhook-Signature"

EVENT_ACTIONS: Mapping[str, Action] = {
    "after_insert": Action.INSERT,
    "on_update": Action.UPDATE,
    "on_trash": Action.TRASH,
    "after_delete": Action.DELETE,
    "after_rename": Action.RENAME,
    "on_change": Action.UPDATE,
}
_META = frozenset({"doctype", "name", "old_name", "event"})


class BodyTooLarge(Exception):
    """The request body is over the cap: answered 413, nothing of it parsed."""


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, or `BodyTooLarge` as soon as more than `limit` bytes have arrived."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def signature(secret: str, body: bytes) -> str:
    """What Frappe sends for `body` signed with `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed(secret: str, body: bytes, given: str | None) -> bool:
    """Whether `given` is the signature of `body`, compared in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), given.strip().encode())


class MalformedBody(ValueError):
    """A signed body that is not a document the webhook can read: answered 400."""


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The webhook's document: a JSON object, or a form-encoded one; with `doctype` and `name`."""
    if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            data: Any = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise MalformedBody("the form is not UTF-8") from None
    else:
        try:
            data = json.loads(body)
        except ValueError:
            raise MalformedBody("the body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedBody("the body is not a JSON object")
    for key in ("doctype", "name"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise MalformedBody(f"{key!r} is missing or not a string")
    return data


def event_from_body(data: Mapping[str, Any], event_name: str | None) -> ChangeEvent | None:
    """The change event, or None for a doctype memora-cdn does not follow."""
    try:
        doctype = parse_doctype(data["doctype"])
    except UnknownDoctypeError:
        return None
    name = event_name if event_name is not None else data.get("event")
    if name is not None and (not isinstance(name, str) or name not in EVENT_ACTIONS):
        raise MalformedBody(f"unknown event {name!r} (one of {', '.join(EVENT_ACTIONS)})")
    action = EVENT_ACTIONS[name] if name is not None else Action.UPDATE
    old_name = data.get("old_name")
    return ChangeEvent(
        doctype=doctype,
        name=str(data["name"]),
        action=action,
        fields={k: v for k, v in data.items() if k not in _META},
        old_name=str(old_name) if old_name else None,
    )


_Call = tuple[ChangeEvent | None, str, "asyncio.Future[frozenset[str]]"]


class IntakeBatch:
    """Webhook calls answered at once go to the intake together: their events are resolved
    with one set of lookups and queued at once, and their outcomes counted in one
    transaction, one batch at a time on one thread. A call waits for its batch, so a 202
    still means queued."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self._waiting: list[_Call] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, event: ChangeEvent | None, outcome: str) -> frozenset[str]:
        """Count a call with this outcome and queue its event, if any; the plans it affects."""
        future: asyncio.Future[frozenset[str]] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, outcome, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await run_in_threadpool(self._apply, batch)
                except Exception as error:
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, _, future), plans in zip(batch, results, strict=True):
                    if not future.done():  # its caller may have gone (client disconnected)
                        future.set_result(plans)
        finally:
            self._draining = None

    def _apply(self, batch: list[_Call]) -> list[frozenset[str]]:
        events = [event for event, _, _ in batch if event is not None]
        each = self.intake.submit_each(events, trigger=Trigger.SCHEDULER)[0] if events else []
        self.intake.state.count_webhooks(Counter(outcome for _, outcome, _ in batch))
        plans = iter(each)
        return [frozenset() if event is None else next(plans) for event, _, _ in batch]


class FrappeWebhook:
    """The route handler; `secret` None rejects every call (and says so once in the log)."""

    def __init__(self, intake: Intake, secret: str | None) -> None:
        self.batch = IntakeBatch(intake)
        self.secret = secret
        self._warned = False

    async def count(self, outcome: str) -> None:
        """Counted in the state database, for `/metrics` of every process."""
        await self.batch.submit(None, outcome)

    async def reject(self, status: int, outcome: str, reason: str) -> JSONResponse:
        log.warning("webhook rejected (%d): %s", status, reason)
        await self.count(outcome)
        return JSONResponse({"error": reason}, status_code=status)

    async def handle(self, request: Request) -> JSONResponse:
        if self.secret is None:
            if not self._warned:
                self._warned = True
                log.warning("webhook_secret is not set: every webhook call is refused (401)")
            await self.count("no_secret")
            return JSONResponse({"error": "webhook_secret is not set"}, status_code=401)
        try:
            body = await read_capped(request)
        except BodyTooLarge:
            return await self.reject(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
        given = request.headers.get(SIGNATURE_HEADER)
        if not signed(self.secret, body, given):
            problem = "bad" if given else "missing"
            return await self.reject(401, f"{problem}_signature", f"{problem} {SIGNATURE_HEADER}")
        try:
            data = parse_body(body, request.headers.get("content-type", ""))
            event = event_from_body(data, request.query_params.get("event"))
        except MalformedBody as error:
            return await self.reject(400, "malformed", str(error))
        if event is None:
            await self.count("ignored")
            return JSONResponse({"status": "ignored", "doctype": data["doctype"]}, 202)
        plans = await self.batch.submit(event, "accepted")
        return JSONResponse({"status": "queued", "plans": sorted(plans)}, status_code=202)
