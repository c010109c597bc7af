"""`POST /hooks/frappe` (SPEC §9): what is accepted, what is refused, and why."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.testclient import TestClient

from httpkit import SECRET, queued
from memora_cdn.app import App
from memora_cdn.core.model import SyncStatus
from memora_cdn.http.app import create_http_app
from memora_cdn.http.webhook import signature

LESSON = "LES-00001"
PLANS = ["PLAN-G10-LIT", "PLAN-G10-SCI", "PLAN-G11-GEN"]
"""The plans whose trees hold the lesson (whether or not they show it)."""


def signed_post(
    client: TestClient,
    body: bytes,
    *,
    event: str | None = "on_update",
    content_type: str = "application/json",
    secret: str = SECRET,
) -> tuple[int, dict[str, object]]:
    url = "/hooks/frappe" + (f"?event={event}" if event else "")
    response = client.post(
        url,
        content=body,
        headers={
            "Content-Type": content_type,
            "X-Frappe-Webhook-Signature": signature(secret, body),
        },
    )
    return response.status_code, response.json()


def lesson_body(**extra: str) -> bytes:
    return json.dumps({"doctype": "Memora Lesson", "name": LESSON, **extra}).encode()


def test_healthz_is_open(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_signed_lesson_update_queues_the_plans_holding_it(client: TestClient, site: App) -> None:
    status, body = signed_post(client, lesson_body())
    assert (status, body) == (
        202,
        {"status": "queued", "plans": PLANS},
    )
    assert queued(site) == 3
    rows = site.state.sync_log(status=SyncStatus.QUEUED, limit=10)
    assert sorted(r.plan_id for r in rows) == PLANS


def test_a_form_encoded_body_is_accepted_like_json(client: TestClient, site: App) -> None:
    body = urlencode({"doctype": "Memora Lesson", "name": LESSON}).encode()
    status, _ = signed_post(client, body, content_type="application/x-www-form-urlencoded")
    assert status == 202
    assert queued(site) == 3


def test_the_event_field_names_the_action_when_the_url_does_not(
    client: TestClient, site: App
) -> None:
    status, _ = signed_post(client, lesson_body(event="on_trash"), event=None)
    assert status == 202
    assert queued(site) == 3


def test_an_unknown_doctype_is_answered_202_and_ignored(client: TestClient, site: App) -> None:
    body = json.dumps({"doctype": "ToDo", "name": "T-1"}).encode()
    assert signed_post(client, body) == (202, {"status": "ignored", "doctype": "ToDo"})
    assert queued(site) == 0


@pytest.mark.parametrize(
    ("body", "event", "reason"),
    [
        (b"[1, 2]", "on_update", "the body is not a JSON object"),
        (b'{"doctype": "Memora Lesson"}', "on_update", "'name' is missing or not a string"),
        (b'{"name": "LES-00001"}', "on_update", "'doctype' is missing or not a string"),
        (b"\xff\xfe", "on_update", "the body is not JSON"),
        (
            b'{"doctype": "Memora Lesson", "name": "LES-00001"}',
            "on_save",
            "unknown event 'on_save' (one of after_insert, on_update, on_trash, after_delete, "
            "after_rename, on_change)",
        ),
        (
            b'{"doctype": "Memora Lesson", "name": "LES-00001", "event": ["on_update"]}',
            None,
            "unknown event ['on_update'] (one of after_insert, on_update, on_trash, "
            "after_delete, after_rename, on_change)",
        ),
    ],
)
def test_a_signed_but_unusable_body_is_400_and_queues_nothing(
    client: TestClient, site: App, body: bytes, event: str | None, reason: str
) -> None:
    assert signed_post(client, body, event=event) == (400, {"error": reason})
    assert queued(site) == 0


def test_a_body_signed_with_another_secret_is_401(client: TestClient, site: App) -> None:
    status, body = signed_post(client, lesson_body(), secret="guess")
    assert (status, body) == (401, {"error": "bad X-Frappe-Webhook-Signature"})
    assert queued(site) == 0


def test_a_body_over_1_mb_sent_in_chunks_is_cut_off_with_413(client: TestClient, site: App) -> None:
    sent: list[int] = []

    def chunks() -> object:
        for _ in range(64):  # 4 MB in 64 kB chunks, no Content-Length
            sent.append(1)
            yield b"x" * 65536

    response = client.post(
        "/hooks/frappe?event=on_update",
        content=chunks(),  # type: ignore[arg-type]
        headers={"X-Frappe-Webhook-Signature": "irrelevant"},
    )
    assert response.status_code == 413
    assert response.json() == {"error": "body over 1048576 bytes"}
    assert queued(site) == 0


def test_with_no_webhook_secret_every_call_is_401_and_the_log_says_why_once(
    site: App, caplog: pytest.LogCaptureFixture
) -> None:
    site.settings = site.settings.model_copy(update={"webhook_secret": None})
    with TestClient(create_http_app(site)) as client:
        for _ in range(2):
            status, body = signed_post(client, lesson_body())
            assert (status, body) == (401, {"error": "webhook_secret is not set"})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["webhook_secret is not set: every webhook call is refused (401)"]
    assert queued(site) == 0


def test_rejections_are_logged_without_the_body_or_the_secret(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    signed_post(client, lesson_body(), secret="guess")
    signed_post(client, b'{"doctype": "Memora Lesson", "name": "top-secret-name"', event="x")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged == (
        "webhook rejected (401): bad X-Frappe-Webhook-Signature\n"
        "webhook rejected (400): the body is not JSON"
    )
    assert SECRET not in logged


def test_concurrent_calls_each_get_their_own_plans_and_are_all_counted(
    site: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls that arrive together are queued together, and each answer is still its own."""
    batches: list[int] = []
    submit_each = site.intake.submit_each

    def counting(events: Any, **kwargs: Any) -> Any:
        batches.append(len(events))
        return submit_each(events, **kwargs)

    monkeypatch.setattr(site.intake, "submit_each", counting)
    bodies = [lesson_body()] * 10 + [
        json.dumps({"doctype": "Memora Lesson", "name": "NO-SUCH-LESSON"}).encode()
    ] * 10

    async def post_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=create_http_app(site))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            calls = [
                client.post(
                    "/hooks/frappe?event=on_update",
                    content=body,
                    headers={"X-Frappe-Webhook-Signature": signature(SECRET, body)},
                )
                for body in [*bodies, b"{", b"{"]
            ]
            return await asyncio.gather(*calls)

    responses = asyncio.run(post_all())
    assert [r.status_code for r in responses] == [202] * 20 + [400, 400]
    assert [r.json()["plans"] for r in responses[:20]] == [PLANS] * 10 + [[]] * 10
    assert queued(site) == 3
    assert site.state.webhook_counts() == {"accepted": 20, "malformed": 2}
    assert sum(batches) == 20
    assert len(batches) < 20  # calls in flight together went to the intake together
