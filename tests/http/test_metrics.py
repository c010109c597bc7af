"""`GET /metrics` (SPEC §9): Prometheus text whose numbers are the shared state's."""

from __future__ import annotations

import json

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from clirun import invoke
from httpkit import AUTH, SECRET, TOKEN, dead_letter, failed_build
from memora_cdn.app import App, running
from memora_cdn.core.model import SyncStatus
from memora_cdn.http.app import create_http_app
from memora_cdn.http.webhook import signature

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def webhook(client: TestClient, body: bytes, secret: str = SECRET) -> int:
    response = client.post(
        "/hooks/frappe?event=on_update",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Frappe-Webhook-Signature": signature(secret, body),
        },
    )
    return response.status_code


def test_metrics_match_the_state_after_builds_a_failure_a_dead_letter_and_webhooks(
    client: TestClient, site: App
) -> None:
    before = scrape(client)
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE `tabMemora Lesson` SET title = 'New' WHERE name = 'LES-00001'")
        )
    engine.dispose()
    built = ["PLAN-G10-LIT", "PLAN-G10-SCI", "PLAN-G11-GEN"]
    for plan in built:
        assert client.post(f"/api/plans/{plan}/rebuild", headers=AUTH).status_code == 202
    assert invoke("sync")[0] == 0
    failed_build(site, "PLAN-G10-SCI", "boom")
    dead_letter(site, "PLAN-G12-SCI")
    lesson = json.dumps({"doctype": "Memora Lesson", "name": "LES-00001"}).encode()
    statuses = [webhook(client, lesson) for _ in range(3)]
    statuses += [webhook(client, lesson, secret="guess"), webhook(client, b"{")]
    assert statuses == [202, 202, 202, 401, 400]
    after = scrape(client)

    rows = [r for r in site.state.sync_log(limit=20) if r.plan_id in built]
    successes = [r for r in rows if r.status is SyncStatus.SUCCESS and r.completed_at]
    successes = successes[:3]
    assert {r.plan_id for r in successes} == set(built)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("memora_cdn_builds_total", status="Success", trigger="Manual") == 3
    assert delta("memora_cdn_builds_total", status="Failed", trigger="Scheduler") == 1
    assert delta("memora_cdn_build_duration_seconds_count") == 4
    assert delta("memora_cdn_files_uploaded_total") == sum(
        r.counts.files_uploaded for r in successes
    )
    assert delta("memora_cdn_bytes_uploaded_total") == sum(
        r.counts.bytes_uploaded for r in successes
    )
    assert delta("memora_cdn_files_uploaded_total") > 0
    assert value(after, "memora_cdn_queue_depth", state="dead_letter") == 1
    assert value(after, "memora_cdn_queue_depth", state="pending") == 3
    assert value(after, "memora_cdn_queue_fallback_active") == 0
    assert value(after, "memora_cdn_oldest_pending_age_seconds") >= 0
    assert value(after, "memora_cdn_webhook_events_total", outcome="accepted") == 3
    assert value(after, "memora_cdn_webhook_events_total", outcome="bad_signature") == 1
    assert value(after, "memora_cdn_webhook_events_total", outcome="malformed") == 1


def test_metrics_need_the_admin_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert TOKEN not in client.get("/metrics").text


def test_a_second_app_on_the_same_state_reports_the_same_numbers(
    client: TestClient, site: App
) -> None:
    """Counts live in the state tables: another `serve` process sees what this one counted."""
    assert webhook(client, b"{", secret="guess") == 401
    with running(site.settings) as other, TestClient(create_http_app(other)) as second:
        assert scrape(second) == scrape(client)
        assert (
            value(scrape(second), "memora_cdn_webhook_events_total", outcome="bad_signature") == 1
        )
