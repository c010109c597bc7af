"""The whole production path in one place: a Frappe-shaped MariaDB site read with read-only
credentials, scanned, published to an S3 server through boto3, and purged at Cloudflare."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from catalogue import CatalogueBuilder, create_content_schema
from fakes.cloudflare import FakeCloudflare
from fakes.s3server import TEST_CREDENTIALS, S3FaultProxy
from memora_cdn.cli import app
from memora_cdn.source.schema import DELETED_DOCUMENT, content_metadata
from production.conftest import MariaSite

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]
CDN = "https://cdn.example.test"
PREFIX = "cdn/v1"
runner = CliRunner()


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch,
    no_settings_env: None,
    maria_site: MariaSite,
    s3_proxy: S3FaultProxy,
    cloudflare: FakeCloudflare,
    s3_bucket: str,
) -> dict[str, str]:
    values = {
        "MEMORA_CDN_DATABASE_URL": maria_site.site_url,
        "MEMORA_CDN_STATE_DATABASE_URL": maria_site.state_url,
        "MEMORA_CDN_STORE": f"s3://{s3_bucket}/{PREFIX}",
        "MEMORA_CDN_S3_ENDPOINT_URL": s3_proxy.endpoint,
        "MEMORA_CDN_S3_REGION": "us-east-1",
        "MEMORA_CDN_S3_ACCESS_KEY": TEST_CREDENTIALS[0],
        "MEMORA_CDN_S3_SECRET_KEY": TEST_CREDENTIALS[1],
        "MEMORA_CDN_CDN_BASE_URL": CDN,
        "MEMORA_CDN_CLOUDFLARE_ZONE_ID": cloudflare.zone_id,
        "MEMORA_CDN_CLOUDFLARE_API_TOKEN": cloudflare.token,
        "MEMORA_CDN_CLOUDFLARE_API_BASE": cloudflare.api_base,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.stderr
    return result.stdout


def build_site(admin: sa.Engine) -> None:
    """Two plans sharing a subject, as Frappe would have them (plus tabDeleted Document)."""
    create_content_schema(admin)
    b = CatalogueBuilder(admin)
    b.plan("X", subjects=["A"])
    b.plan("Y", subjects=["A", "B"])
    for subject in ("A", "B"):
        b.subject(subject, title=f"Subject {subject}", is_public=True)
        b.track(f"{subject}-T", subject)
        b.unit(f"{subject}-U", f"{subject}-T")
        b.topic(f"{subject}-TP", f"{subject}-U")
        for n in (1, 2, 3):
            lesson = b.lesson(f"{subject}-L{n}", f"{subject}-TP", sort_order=n)
            b.stage(lesson, type="Text", config={"body": f"text {n}"})
    b.insert()


def keys_in(s3: Any, s3_bucket: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def edit(admin: sa.Engine, doctype: str, name: str, **values: Any) -> None:
    table = content_metadata().tables[f"tab{doctype}"]
    values["modified"] = datetime(2030, 1, 1, 12, 0, 0)
    with admin.begin() as conn:
        conn.execute(sa.update(table).where(table.c.name == name).values(**values))


def test_scan_publish_and_purge_on_the_production_stack(
    env: dict[str, str],
    maria_site: MariaSite,
    s3_proxy: S3FaultProxy,
    cloudflare: FakeCloudflare,
    s3_bucket: str,
    s3_direct: Any,
) -> None:
    build_site(maria_site.admin)
    assert "changes found" in invoke("scan")
    invoke("sync")
    stored = keys_in(s3_direct, s3_bucket)
    assert f"{PREFIX}/plans/X/manifest.json" in stored
    assert f"{PREFIX}/plans/Y/lessons/B-L3.json" in stored
    assert {f"{PREFIX}/plans.json", f"{PREFIX}/schemas/v1/lesson.schema.json"} <= stored
    head = s3_direct.head_object(Bucket=s3_bucket, Key=f"{PREFIX}/plans/X/manifest.json")
    assert head["ContentType"] == "application/json; charset=utf-8"
    assert head["CacheControl"] == "public, max-age=60"
    manifest = json.loads(
        s3_direct.get_object(Bucket=s3_bucket, Key=f"{PREFIX}/plans/X/manifest.json")["Body"].read()
    )
    # Links are relative to the manifest (SPEC §3): the store prefix is not in them.
    assert manifest["subjects"][0]["url"].startswith("subjects/A.json?v=")
    assert "Checked" in invoke("verify")

    # An editor retitles a lesson of the shared subject: exactly the changed files of X and Y
    # are PUT, and purged at their plain and their new versioned URLs (plans.json and the
    # schemas are not touched).
    s3_proxy.reset()
    calls_before = len(cloudflare.calls)
    edit(maria_site.admin, "Memora Lesson", "A-L2", title="Renamed lesson")
    invoke("scan")
    invoke("sync")
    expected = {
        f"{PREFIX}/plans/{plan}/{path}"
        for plan in ("X", "Y")
        for path in (
            "lessons/A-L1.json",
            "lessons/A-L2.json",
            "lessons/A-L3.json",
            "units/A-U.json",
            "subjects/A.json",
            "search_index.json",
            "manifest.json",
        )
    }
    assert set(s3_proxy.puts) == expected
    assert all(count == 1 for count in s3_proxy.puts.values())
    purged = [url for call in cloudflare.calls[calls_before:] for url in call.files or []]
    bodies = {
        key: s3_direct.get_object(Bucket=s3_bucket, Key=key)["Body"].read() for key in expected
    }
    versioned = [f"{CDN}/{k}?v={hashlib.sha256(b).hexdigest()[:12]}" for k, b in bodies.items()]
    assert sorted(purged) == sorted([f"{CDN}/{key}" for key in expected] + versioned)

    # The lesson is deleted in Frappe (a tabDeleted Document row): its files go, and are purged.
    s3_proxy.reset()
    calls_before = len(cloudflare.calls)
    deleted = sa.Table(DELETED_DOCUMENT, sa.MetaData(), autoload_with=maria_site.admin)
    lessons = content_metadata().tables["tabMemora Lesson"]
    with maria_site.admin.begin() as conn:
        conn.execute(sa.delete(lessons).where(lessons.c.name == "B-L3"))
        conn.execute(
            sa.insert(deleted).values(
                name="DEL-0001",
                creation=datetime(2030, 1, 1, 13, 0, 0),
                modified=datetime(2030, 1, 1, 13, 0, 0),
                deleted_doctype="Memora Lesson",
                deleted_name="B-L3",
                data=json.dumps({"name": "B-L3", "parent_topic": "B-TP"}),
                restored=0,
            )
        )
    invoke("scan")
    invoke("sync")
    assert f"{PREFIX}/plans/Y/lessons/B-L3.json" not in keys_in(s3_direct, s3_bucket)
    purged = [url for call in cloudflare.calls[calls_before:] for url in call.files or []]
    assert f"{CDN}/{PREFIX}/plans/Y/lessons/B-L3.json" in purged
    assert not [k for k in s3_proxy.puts if "/plans/X/" in k], "X does not show subject B"
    # memora-cdn never wrote to the site: its user can only SELECT.
    with maria_site.admin.connect() as conn:
        tables = {row[0] for row in conn.exec_driver_sql("SHOW TABLES")}
    assert not {t for t in tables if t.startswith("cdn_")}


def test_verify_finds_drift_in_the_bucket_and_repair_restores_it(
    env: dict[str, str], maria_site: MariaSite, s3_bucket: str, s3_direct: Any
) -> None:
    build_site(maria_site.admin)
    invoke("scan")
    invoke("sync")
    s3_direct.delete_object(Bucket=s3_bucket, Key=f"{PREFIX}/plans/X/lessons/A-L1.json")
    s3_direct.put_object(Bucket=s3_bucket, Key=f"{PREFIX}/plans/X/lessons/stray.json", Body=b"{}")
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "missing: plans/X/lessons/A-L1.json" in result.stdout
    assert "unexpected: plans/X/lessons/stray.json" in result.stdout
    invoke("verify", "--repair")
    assert "Checked" in invoke("verify")
    stored = keys_in(s3_direct, s3_bucket)
    assert f"{PREFIX}/plans/X/lessons/A-L1.json" in stored
    assert f"{PREFIX}/plans/X/lessons/stray.json" not in stored
