"""The dashboard's login, session cookie and CSRF checks, and what its pages show (SPEC §9),
through Starlette's TestClient; tests/http/test_dashboard_browser.py drives a real browser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from httpkit import SECRET, TOKEN, dead_letter, failed_build, queued
from memora_cdn.app import App, running
from memora_cdn.http.app import create_http_app
from memora_cdn.http.auth import SESSION_COOKIE
from memora_cdn.settings import load_settings

PLAN = "PLAN-G10-SCI"


def csrf_of(page: str) -> str:
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


@pytest.fixture
def signed_in(client: TestClient) -> TestClient:
    response = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert response.status_code == 303
    return client


def test_signing_in_sets_an_httponly_samesite_strict_cookie_that_is_not_the_token(
    client: TestClient,
) -> None:
    response = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert attributes == {"httponly", "path=/", "samesite=strict"}
    value = cookie.split(";", 1)[0].removeprefix(f"{SESSION_COOKIE}=")
    assert len(value) == 64
    assert TOKEN not in cookie


def test_the_cookie_is_secure_when_the_request_is_https(site: App) -> None:
    with TestClient(create_http_app(site), base_url="https://testserver") as client:
        response = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert "secure" in {part.strip().lower() for part in response.headers["set-cookie"].split(";")}


def test_a_wrong_token_is_401_with_the_form_error_and_no_data(
    client: TestClient, site: App
) -> None:
    failed_build(site, PLAN, "store error: boom")
    response = client.post("/login", data={"token": "wrong"}, follow_redirects=False)
    assert response.status_code == 401
    assert '<p class="alert" role="alert" id="login-error">Wrong admin token.</p>' in response.text
    assert "set-cookie" not in response.headers
    for data in (PLAN, "boom", 'id="queue"'):
        assert data not in response.text
    assert client.get("/api/status").status_code == 401


def test_without_a_session_the_dashboard_shows_only_the_login_form(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<form method="post" action="/login">' in page.text
    assert PLAN not in page.text
    assert client.get("/dashboard/panels").status_code == 401


def test_the_session_cookie_opens_the_dashboard_the_api_and_metrics(
    signed_in: TestClient,
) -> None:
    page = signed_in.get("/")
    assert page.status_code == 200
    assert 'id="queue"' in page.text
    assert f'data-plan="{PLAN}"' in page.text
    assert signed_in.get("/dashboard/panels").status_code == 200
    assert signed_in.get("/api/status").json()["queue_backend"] == "sql"
    assert "memora_cdn_queue_depth" in signed_in.get("/metrics").text


def test_signing_out_clears_the_cookie(signed_in: TestClient) -> None:
    token = csrf_of(signed_in.get("/").text)
    response = signed_in.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["set-cookie"].startswith(f'{SESSION_COOKIE}=""; ')
    assert "max-age=0" in response.headers["set-cookie"].lower()
    assert signed_in.get("/api/status").status_code == 401
    assert 'action="/login"' in signed_in.get("/").text


def test_signing_out_without_the_csrf_token_is_refused(signed_in: TestClient) -> None:
    response = signed_in.post("/logout", follow_redirects=False)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert signed_in.get("/api/status").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/api/dead-letter/{PLAN}/retry"),
        ("DELETE", f"/api/dead-letter/{PLAN}"),
        ("POST", f"/api/plans/{PLAN}/rebuild"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-CSRF-Token": "forged"}, "cross-site"],
    ids=["no-token", "wrong-token", "cross-site-with-token"],
)
def test_a_cookie_request_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    signed_in: TestClient,
    site: App,
    method: str,
    path: str,
    headers: dict[str, str] | str,
) -> None:
    dead_letter(site, PLAN)
    if headers == "cross-site":
        headers = {
            "X-CSRF-Token": csrf_of(signed_in.get("/").text),
            "Origin": "https://evil.example",
            "Sec-Fetch-Site": "cross-site",
        }
    assert isinstance(headers, dict)
    response = signed_in.request(method, path, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"].endswith("; nothing was changed")
    assert queued(site) == 0
    assert [d.plan for d in site.queue.dead_letters()] == [PLAN]


def test_a_cookie_request_with_the_csrf_token_retries_a_dead_letter(
    signed_in: TestClient, site: App
) -> None:
    dead_letter(site, PLAN)
    token = csrf_of(signed_in.get("/").text)
    response = signed_in.post(
        f"/api/dead-letter/{PLAN}/retry",
        headers={"X-CSRF-Token": token, "Origin": "http://testserver"},
    )
    assert response.status_code == 202
    assert site.queue.dead_letters() == []
    assert queued(site) == 1


def test_the_dashboard_shows_failures_dead_letters_and_plans(
    signed_in: TestClient, site: App
) -> None:
    failed_build(site, "PLAN-G10-LIT", "store error: 503 from the bucket")
    dead_letter(site, PLAN, "schema error: lessons/LES-1.json")
    page = signed_in.get("/").text
    assert 'data-count="dead_letter">1<' in page
    assert "store error: 503 from the bucket" in page
    assert f'<li class="row" data-dead-letter="{PLAN}">' in page
    assert f'data-action="retry" data-plan="{PLAN}"' in page
    assert f'data-action="clear" data-plan="{PLAN}"' in page
    assert f'data-action="rebuild" data-plan="{PLAN}"' in page
    assert '<svg class="chart"' in page


@pytest.fixture
def secret_site(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, list[str]]]:
    """The demo's app with every kind of secret set, signed in."""
    secrets = {
        "ADMIN_TOKEN": TOKEN,
        "WEBHOOK_SECRET": SECRET,
        "SIGNING_SECRET": "hmac-signing-key-9f2c",
        "CLOUDFLARE_API_TOKEN": "cf-api-token-77aa",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(f"MEMORA_CDN_{name}", value)
    monkeypatch.setenv("MEMORA_CDN_SIGNER", "hmac")
    monkeypatch.setenv("MEMORA_CDN_MEDIA_BASE_URL", "https://media.example.org/")
    monkeypatch.setenv("MEMORA_CDN_CLOUDFLARE_ZONE_ID", "zone-1")
    monkeypatch.setenv("MEMORA_CDN_CDN_BASE_URL", "https://cdn.example.org/")
    with running(load_settings()) as application, TestClient(create_http_app(application)) as c:
        failed_build(application, PLAN, "store error: boom")
        dead_letter(application, "PLAN-G10-LIT")
        yield c, list(secrets.values())


def test_no_secret_reaches_a_page(secret_site: tuple[TestClient, list[str]]) -> None:
    client, secrets = secret_site
    pages = [client.get("/"), client.post("/login", data={"token": "wrong"})]
    pages.append(client.post("/login", data={"token": TOKEN}))
    pages += [client.get("/"), client.get(f"/?plan={PLAN}"), client.get("/dashboard/panels")]
    assert [p.status_code for p in pages] == [200, 401, 200, 200, 200, 200]
    assert "store error: boom" in pages[-1].text
    for page in pages:
        for secret in secrets:
            assert secret not in page.text
            assert secret not in str(page.headers)


def test_with_no_admin_token_the_dashboard_is_open_but_refuses_cross_site_posts(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMORA_CDN_ADMIN_TOKEN", raising=False)
    with running(load_settings()) as application, TestClient(create_http_app(application)) as c:
        page = c.get("/")
        assert 'id="queue"' in page.text
        assert 'action="/logout"' not in page.text
        forged = c.post(
            f"/api/plans/{PLAN}/rebuild",
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert forged.status_code == 403
        assert queued(application) == 0
        assert c.post(f"/api/plans/{PLAN}/rebuild").status_code == 202
        assert queued(application) == 1


def section(page: str, name: str) -> str:
    return page.split(f'<section class="card" id="{name}">', 1)[1].split("</section>", 1)[0]


def test_the_dashboard_lists_signed_urls_expiring_soon_and_purges_pending(
    signed_in: TestClient, site: App
) -> None:
    store, now = site.store.identity, site.now()
    for plan, seconds in ((PLAN, 1800), ("PLAN-G10-LIT", 5 * 3600)):
        key = f"plans/{plan}/lessons/LES-00001.json"
        entry = site.state.published(store, plan)[key]
        expires = int(site.clock()) + seconds
        site.state.record_uploads(store, plan, [(key, replace(entry, expires_at=expires))], now)
    site.state.add_pending_purges(
        "PLAN-G12-SCI", ["plans/PLAN-G12-SCI/manifest.json", "plans/PLAN-G12-SCI/x.json"], now
    )
    page = signed_in.get("/dashboard/panels").text
    expiring = section(page, "expiring")
    assert f"<strong>{PLAN}</strong>" in expiring
    assert "PLAN-G10-LIT" not in expiring  # past the 2 h window
    assert "in 29 min" in expiring or "in 30 min" in expiring
    purges = section(page, "purges")
    assert "<strong>PLAN-G12-SCI</strong>" in purges
    assert f"2 URLs since {now:%Y-%m-%dT%H:%M:%S}Z" in purges


def test_a_plans_tree_lists_the_nodes_a_hide_override_takes_out(
    signed_in: TestClient, site: App
) -> None:
    hides = [
        (plan, row.target_name)
        for plan in site.source.plan_names()
        if (snapshot := site.source.load(plan, frozenset())) is not None
        and snapshot.plan.is_published
        for row in snapshot.overrides
        if row.action == "Hide" and row.target_name in {n.name for n in snapshot.nodes}
    ]
    assert hides, "the demo hides at least one node"
    for plan, name in hides:
        tree = signed_in.get(f"/api/plans/{plan}/tree").json()
        assert name in {node["id"] for node in tree["hidden"]}
        assert f'"id": "{name}"' not in json.dumps(tree["subjects"])
        page = signed_in.get(f"/?plan={plan}").text
        hidden = page.split('<ul class="tree" id="hidden">', 1)[1].split("</ul>", 1)[0]
        assert f'<span class="id">{name}</span>' in hidden
