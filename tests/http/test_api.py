"""The admin API (SPEC §9): each route's answer, its token check, and bad input that changes
nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from httpkit import AUTH, TOKEN, dead_letter, failed_build, queued
from memora_cdn.app import App
from memora_cdn.core.model import SyncStatus, Trigger

PLAN = "PLAN-G10-SCI"

ROUTES = [
    ("GET", "/api/status"),
    ("GET", "/api/sync-log"),
    ("GET", "/api/failures"),
    ("GET", "/api/dead-letter"),
    ("POST", f"/api/dead-letter/{PLAN}/retry"),
    ("DELETE", f"/api/dead-letter/{PLAN}"),
    ("GET", "/api/plans"),
    ("POST", f"/api/plans/{PLAN}/rebuild"),
    ("GET", f"/api/plans/{PLAN}/tree"),
]


def get(client: TestClient, path: str) -> tuple[int, Any]:
    response = client.get(path, headers=AUTH)
    return response.status_code, response.json()


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_every_api_route_refuses_a_missing_or_wrong_token_and_changes_nothing(
    client: TestClient, site: App, method: str, path: str, headers: dict[str, str]
) -> None:
    dead_letter(site, PLAN)
    response = client.request(method, path, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "missing or wrong admin token (Authorization: Bearer …)"}
    assert TOKEN not in response.text
    assert queued(site) == 0
    assert [d.plan for d in site.queue.dead_letters()] == [PLAN]


def test_status_reports_the_queue_and_the_last_success_and_failure(
    client: TestClient, site: App
) -> None:
    dead_letter(site, PLAN)
    site.intake.queue_plans(["PLAN-G10-LIT"], trigger=Trigger.MANUAL)
    failed_build(site, PLAN, "boom")
    status, body = get(client, "/api/status")
    assert status == 200
    assert body["last_success_at"] is not None  # the demo's publish
    assert body["last_failure_at"] is not None
    del body["last_success_at"], body["last_failure_at"]
    assert body == {
        "pending": 1,
        "processing": 0,
        "retrying": 0,
        "dead_letter": 1,
        "queue_backend": "sql",
        "fallback_pending": 0,
    }


def test_sync_log_filters_by_plan_and_status_and_caps_the_limit(
    client: TestClient, site: App
) -> None:
    failed_build(site, PLAN, "boom")
    status, body = get(client, f"/api/sync-log?plan={PLAN}&status=Failed")
    assert status == 200
    assert [(e["plan_id"], e["status"], e["error_message"]) for e in body["entries"]] == [
        (PLAN, "Failed", "boom")
    ]
    status, body = get(client, "/api/sync-log?limit=100000")
    assert status == 200
    assert 1 < len(body["entries"]) <= 500


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "status=Broken",
            "status must be one of Queued, Processing, Success, Failed, Dead Letter, not 'Broken'",
        ),
        ("limit=ten", "limit must be an integer, not 'ten'"),
        ("limit=0", "limit must be at least 1, not 0"),
    ],
)
def test_sync_log_with_bad_input_is_400(client: TestClient, query: str, message: str) -> None:
    assert get(client, f"/api/sync-log?{query}") == (400, {"error": message})


def test_failures_lists_those_of_the_last_days_only(client: TestClient, site: App) -> None:
    failed_build(site, PLAN, "old", days_ago=10)
    failed_build(site, PLAN, "recent", days_ago=1)
    status, body = get(client, "/api/failures?days=7")
    assert status == 200
    assert [e["error_message"] for e in body["entries"]] == ["recent"]
    assert get(client, "/api/failures?days=-1") == (
        400,
        {"error": "days must be at least 1, not -1"},
    )


def test_dead_letters_are_listed_retried_and_cleared(client: TestClient, site: App) -> None:
    dead_letter(site, PLAN, "store error: boom")
    dead_letter(site, "PLAN-G10-LIT")
    status, body = get(client, "/api/dead-letter")
    assert status == 200
    assert {(d["plan"], d["last_error"]) for d in body["dead_letters"]} == {
        (PLAN, "store error: boom"),
        ("PLAN-G10-LIT", "store error: boom"),
    }
    response = client.post(f"/api/dead-letter/{PLAN}/retry", headers=AUTH)
    assert (response.status_code, response.json()) == (202, {"plan": PLAN, "status": "queued"})
    assert queued(site) == 1
    assert site.state.sync_log(plan=PLAN, limit=1)[0].status is SyncStatus.QUEUED
    response = client.delete("/api/dead-letter/PLAN-G10-LIT", headers=AUTH)
    assert (response.status_code, response.json()) == (
        200,
        {"plan": "PLAN-G10-LIT", "status": "cleared"},
    )
    assert site.queue.dead_letters() == []


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_retrying_or_clearing_a_plan_not_in_the_dead_letter_is_404(
    client: TestClient, site: App, method: str
) -> None:
    dead_letter(site, PLAN)
    path = "/api/dead-letter/PLAN-NONE" + ("/retry" if method == "POST" else "")
    response = client.request(method, path, headers=AUTH)
    assert (response.status_code, response.json()) == (
        404,
        {"error": "'PLAN-NONE' is not in the dead letter"},
    )
    assert [d.plan for d in site.queue.dead_letters()] == [PLAN]
    assert queued(site) == 0


def test_rebuild_queues_the_plan_without_building_it(client: TestClient, site: App) -> None:
    before = site.state.publications(site.store.identity)
    response = client.post(f"/api/plans/{PLAN}/rebuild", headers=AUTH)
    assert (response.status_code, response.json()) == (202, {"plan": PLAN, "status": "queued"})
    assert queued(site) == 1
    assert site.state.publications(site.store.identity) == before
    response = client.post(f"/api/plans/{PLAN}/rebuild", headers=AUTH)
    assert response.json() == {"plan": PLAN, "status": "already queued"}


def test_rebuilding_an_unknown_plan_is_404_and_queues_nothing(
    client: TestClient, site: App
) -> None:
    response = client.post("/api/plans/PLAN-NONE/rebuild", headers=AUTH)
    assert (response.status_code, response.json()) == (404, {"error": "no plan named 'PLAN-NONE'"})
    assert queued(site) == 0


def test_plans_lists_every_plan_with_what_is_published(client: TestClient) -> None:
    status, body = get(client, "/api/plans")
    assert status == 200
    by_name = {p["plan_id"]: p for p in body["plans"]}
    assert PLAN in by_name
    assert by_name[PLAN]["files"] > 0
    assert by_name[PLAN]["last_published_at"] is not None


def test_a_plans_tree_shows_each_visible_node_with_its_access_as_published(
    client: TestClient, site: App
) -> None:
    status, body = get(client, f"/api/plans/{PLAN}/tree")
    assert status == 200
    nodes = {}

    def walk(node: dict[str, Any]) -> None:
        nodes[node["id"]] = node
        for child in node["children"]:
            walk(child)

    for subject in body["subjects"]:
        walk(subject)
    lesson = site.store.get(f"plans/{PLAN}/lessons/LES-00001.json")
    assert lesson is not None
    published = json.loads(lesson)
    assert nodes["LES-00001"]["kind"] == "lesson"
    assert nodes["LES-00001"]["access"] == published["access"]
    assert get(client, "/api/plans/PLAN-NONE/tree") == (
        404,
        {"error": "no published plan named 'PLAN-NONE'"},
    )


def test_cdn_serves_published_files_with_their_headers_and_nothing_else(
    client: TestClient, site: App
) -> None:
    response = client.get(f"/cdn/plans/{PLAN}/manifest.json")
    assert response.status_code == 200
    assert response.content == site.store.get(f"plans/{PLAN}/manifest.json")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=60"
    lesson = client.get(f"/cdn/plans/{PLAN}/lessons/LES-00001.json")
    assert lesson.headers["cache-control"] == "public, max-age=31536000"
    for key in ("plans/NOPE/manifest.json", "../memora.db", "plans/..%2F..%2Fmemora.db", ""):
        assert client.get(f"/cdn/{key}").status_code == 404, key
