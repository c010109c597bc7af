"""Acceptance (issue 9): a real `memora-cdn serve` takes Frappe webhooks (SPEC §9)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from clirun import invoke
from httpkit import SECRET, Server
from memora_cdn.http.webhook import signature

pytestmark = pytest.mark.slow

LESSON = "LES-00001"
PLANS = ("PLAN-G10-LIT", "PLAN-G10-SCI")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def expected_rewrites(store: Path, plan: str) -> set[str]:
    """A title edit: the lesson, both neighbours (their navigation names it), its unit and
    subject, the search files that list it, and the manifest."""
    lesson = json.loads((store / f"plans/{plan}/lessons/{LESSON}.json").read_bytes())
    nav, parent = lesson["navigation"], lesson["parent"]
    keys = {
        f"plans/{plan}/lessons/{LESSON}.json",
        f"plans/{plan}/units/{parent['unit_id']}.json",
        f"plans/{plan}/subjects/{parent['subject_id']}.json",
        f"plans/{plan}/search_index.json",
        f"plans/{plan}/manifest.json",
    }
    keys |= {f"plans/{plan}/lessons/{nav[side]['id']}.json" for side in ("previous", "next")}
    shard = f"plans/{plan}/search/{parent['subject_id']}.json"
    if (store / shard).exists():
        keys.add(shard)
    return keys


def post(server: Server, body: bytes, headers: dict[str, str], event: str = "on_update") -> int:
    response = httpx.post(
        f"{server.url}/hooks/frappe?event={event}", content=body, headers=headers, timeout=30
    )
    return response.status_code


def queued() -> int:
    code, stdout, _ = invoke("status", "--json")
    assert code == 0
    queue = json.loads(stdout)["queue"]
    return int(queue["pending"]) + int(queue["retrying"])


def test_a_signed_webhook_for_a_lesson_edit_queues_exactly_what_the_edit_changes(
    server: Server, demo: Path
) -> None:
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE `tabMemora Lesson` SET title = 'Renamed' WHERE name = :n"),
            {"n": LESSON},
        )
    engine.dispose()
    body = json.dumps({"doctype": "Memora Lesson", "name": LESSON}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Frappe-Webhook-Signature": signature(SECRET, body),
    }
    assert post(server, body, headers) == 202
    store = demo / "cdn-out"
    before = snapshot(store)
    expected = set().union(*(expected_rewrites(store, plan) for plan in PLANS))
    assert invoke("sync")[0] == 0
    after = snapshot(store)
    changed = {key for key, data in after.items() if before.get(key) != data}
    assert changed == expected
    assert json.loads(after[f"plans/PLAN-G10-SCI/lessons/{LESSON}.json"])["title"] == "Renamed"


def test_rejected_webhooks_get_their_status_and_queue_nothing(server: Server, demo: Path) -> None:
    body = json.dumps({"doctype": "Memora Lesson", "name": LESSON}).encode()
    json_type = {"Content-Type": "application/json"}
    huge = b'{"doctype": "Memora Lesson", "name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    malformed = b'{"doctype": "Memora Lesson", '
    results = [
        post(server, body, {**json_type, "X-Frappe-Webhook-Signature": signature("wrong", body)}),
        post(server, body, json_type),
        post(server, huge, {**json_type, "X-Frappe-Webhook-Signature": signature(SECRET, huge)}),
        post(
            server,
            malformed,
            {**json_type, "X-Frappe-Webhook-Signature": signature(SECRET, malformed)},
        ),
    ]
    assert results == [401, 401, 413, 400]
    assert queued() == 0
    log = server.log.read_text()
    assert SECRET not in log
    assert "xxxx" not in log


def test_serve_stops_cleanly_on_sigterm(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    # uvicorn finishes the requests in hand and runs the shutdown; the command then ends.
    assert server.process.wait(timeout=30) == 0
    log = server.log.read_text()
    assert "Application shutdown complete" in log
    assert log.endswith("Stopped.\n")
    assert "Traceback" not in log
