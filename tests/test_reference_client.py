"""The reference client (tests/refclient.py) walks the published demo under a prefix, over a
plain HTTP server and over S3, by URL resolution only (issue 8, item 7 and its acceptance)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from fakes.s3server import TEST_CREDENTIALS, MotoS3Server, client_for, new_bucket
from memora_cdn.contracts.tree import validate_tree
from memora_cdn.core import paths
from memora_cdn.core.events import Action
from memora_cdn.core.links import resolve_link
from memora_cdn.core.model import Doctype
from memora_cdn.demo import PUBLISHED_DEMO_PLANS, seed
from memora_cdn.store.base import ObjectStore
from refclient import ReferenceClient, Walk
from sitekit import Site

pytestmark = pytest.mark.slow

PREFIX = "some/prefix"
ARABIC = "درس الكسور العشرية"
AWKWARD = [ARABIC, "50% off", "a lesson with spaces", "طويل " * 60]
"""Lesson names added to the demo: Arabic, `%`, spaces, and one long enough to be hashed."""
MATHS_ONLY = "كسور 100%"
"""A lesson of a subject that only the grade 10 plans show."""


# -- a store served over HTTP as nginx or S3 would serve it -----------------------------


@contextmanager
def served(root: Path, prefix: str) -> Iterator[str]:
    """The folder at `root` on a real HTTP server at `http://127.0.0.1:PORT/{prefix}/`:
    a request's path is percent-decoded once and names the file, as static servers do."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            key = unquote(path.removeprefix(f"/{prefix}/"))
            file = root / key
            if not path.startswith(f"/{prefix}/") or ".." in key.split("/") or not file.is_file():
                self.send_error(404)
                return
            body = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{prefix}/"
    finally:
        server.shutdown()
        server.server_close()


# -- the demo, with awkward lesson names -------------------------------------------------


def demo_site(root: Path, **settings: Any) -> Site:
    site = Site(root, **settings)
    seed(site.engine)
    site.queue_all()
    site.batch()
    english = _first_topic(site, "PLAN-G12-SCI", "SUBJ-ENG")
    maths = _first_topic(site, "PLAN-G10-SCI", "SUBJ-MATH")
    for number, name in enumerate(AWKWARD):
        site.build.lesson(name, english, title=f"Awkward {number}", sort_order=900 + number)
        site.build.stage(name, name=f"ST-AWKWARD-{number}", type="Text", config={"body": "x"})
    site.build.lesson(MATHS_ONLY, maths, title="Maths only", sort_order=900)
    site.build.stage(MATHS_ONLY, name="ST-MATHS-ONLY", type="Text", config={"body": "x"})
    for name in [*AWKWARD, MATHS_ONLY]:
        site.notify(Doctype.LESSON, name, Action.INSERT)
    site.batch()
    return site


def _first_topic(site: Site, plan: str, subject: str) -> str:
    document = _json(site.app.store, paths.subject_key(plan, subject))
    unit = _json(site.app.store, paths.unit_key(plan, document["tracks"][0]["units"][0]["id"]))
    return str(unit["topics"][-1]["id"])


def _json(store: ObjectStore, key: str) -> dict[str, Any]:
    body = store.get(key)
    assert body is not None, f"{key} is not in the store"
    loaded: dict[str, Any] = json.loads(body)
    return loaded


def lesson_ids(store: ObjectStore, plan: str) -> set[str]:
    """The ids of every lesson file the store holds for a plan."""
    keys = store.list_keys(paths.plan_prefix(plan) + "lessons/")
    return {str(_json(store, key)["id"]) for key in keys}


def walk(base: str) -> Walk:
    """Every plan `plans.json` lists, from its manifest link (relative to plans.json)."""
    return ReferenceClient().walk_plans(base + paths.PLANS_KEY)


def assert_every_lesson_reached(found: Walk, store: ObjectStore) -> None:
    assert found.broken == []
    assert found.mismatches == []
    assert sorted(found.trees) == sorted(PUBLISHED_DEMO_PLANS)
    for plan in PUBLISHED_DEMO_PLANS:
        stored = lesson_ids(store, plan)
        assert found.lessons[plan] == stored, plan
        assert found.searched[plan] == stored, plan
    for name in AWKWARD:
        assert all(name in found.lessons[plan] for plan in PUBLISHED_DEMO_PLANS)


@pytest.fixture(scope="module")
def folder_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = demo_site(tmp_path_factory.mktemp("demo"))
    yield site
    site.close()


def test_the_reference_client_walks_the_demo_served_over_http_under_a_prefix(
    folder_site: Site,
) -> None:
    # Before SPEC §3 "Links": root-relative links led to …/plans/P/plans/P/subjects/…,
    # and a lesson named with a space or `%` to a file the server decodes to another name.
    with served(folder_site.store.root, PREFIX) as base:
        found = walk(base)
    assert_every_lesson_reached(found, folder_site.store)
    lessons = sum(len(found.lessons[plan]) for plan in PUBLISHED_DEMO_PLANS)
    assert lessons > 800  # the whole demo, not a sample
    tree = found.trees["PLAN-G12-SCI"]
    assert "        lesson 50% off: Awkward 1" in tree
    assert tree[0].startswith("subject ")


def test_the_reference_client_walks_the_demo_on_s3_under_a_prefix(
    tmp_path: Path, s3_server: MotoS3Server
) -> None:
    bucket = new_bucket(s3_server.endpoint)
    # Readable by anyone, as a bucket behind a CDN is (moto checks the policy).
    public = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    policy = {
        "Version": "2012-10-17",
        "Statement": [public | {"Resource": f"arn:aws:s3:::{bucket}/*"}],
    }
    client_for(s3_server.endpoint).put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    site = demo_site(
        tmp_path,
        store=f"s3://{bucket}/{PREFIX}",
        s3_endpoint_url=s3_server.endpoint,
        s3_region="us-east-1",
        s3_access_key=TEST_CREDENTIALS[0],
        s3_secret_key=TEST_CREDENTIALS[1],
    )
    try:
        # Unsigned path-style GETs: the bucket and the prefix are in the path.
        found = walk(f"{s3_server.endpoint}/{bucket}/{PREFIX}/")
        assert_every_lesson_reached(found, site.app.store)
    finally:
        site.close()


# -- what an edit rewrites ---------------------------------------------------------------


def snapshot(site: Site) -> dict[str, bytes]:
    return {key: site.store.get(key) or b"" for key in site.store.list_keys()}


def rewritten(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def expected_rewrites(site: Site, plan: str, lesson: str, *, neighbours: bool) -> set[str]:
    """The lesson, its unit, its subject, its search shard (or the index when unsharded),
    the index when sharded, and the manifest; with `neighbours`, the lessons either side."""
    document = site.doc(paths.lesson_key(plan, lesson))
    parent = document["parent"]
    keys = {
        paths.lesson_key(plan, lesson),
        paths.unit_key(plan, parent["unit_id"]),
        paths.subject_key(plan, parent["subject_id"]),
        paths.search_index_key(plan),
        paths.manifest_key(plan),
    }
    index_key = paths.search_index_key(plan)
    index = site.doc(index_key)
    if index["is_sharded"]:
        shards = [resolve_link(index_key, shard["url"]) for shard in index["shards"]]
        holding = [
            key
            for key in shards
            if key is not None and any(e["lesson_id"] == lesson for e in site.doc(key)["entries"])
        ]
        assert len(holding) == 1
        keys.add(holding[0])
    if neighbours:
        for side in ("previous", "next"):
            keys.add(paths.lesson_key(plan, document["navigation"][side]["id"]))
    return keys


def by_plan(keys: set[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for key in keys:
        parsed = paths.parse_key(key)
        assert parsed is not None, key
        found.setdefault(unquote(parsed.plan_segment), set()).add(key)
    return found


def test_an_edit_rewrites_exactly_the_files_that_link_to_what_changed(tmp_path: Path) -> None:
    site = demo_site(tmp_path)
    try:
        # A stage edit of a lesson every plan shows (PLAN-G12-SCI's index is sharded).
        expected = {
            plan: expected_rewrites(site, plan, ARABIC, neighbours=False)
            for plan in PUBLISHED_DEMO_PLANS
        }
        before = snapshot(site)
        site.update(Doctype.LESSON_STAGE, "ST-AWKWARD-0", config='{"body": "changed"}')
        site.notify(Doctype.LESSON_STAGE, "ST-AWKWARD-0")
        site.batch()
        changes = rewritten(before, snapshot(site))
        assert paths.PLANS_KEY not in changes  # a lesson edit leaves the list of plans alone
        changed = by_plan(changes)
        assert changed == expected
        assert {plan: len(keys) for plan, keys in changed.items()} == {
            "PLAN-G10-LIT": 5,
            "PLAN-G10-SCI": 5,
            "PLAN-G12-SCI": 6,
        }

        # A title edit also rewrites the two neighbours (their navigation names it).
        middle = AWKWARD[1]
        expected = {
            plan: expected_rewrites(site, plan, middle, neighbours=True)
            for plan in PUBLISHED_DEMO_PLANS
        }
        before = snapshot(site)
        site.update(Doctype.LESSON, middle, title="Renamed")
        site.notify(Doctype.LESSON, middle)
        site.batch()
        changes = rewritten(before, snapshot(site))
        assert paths.PLANS_KEY not in changes  # a lesson edit leaves the list of plans alone
        changed = by_plan(changes)
        assert changed == expected
        assert [len(changed[plan]) for plan in sorted(changed)] == [7, 7, 8]

        # A stage edit of a lesson only the grade 10 plans show: nothing of grade 12 changes.
        plans = ["PLAN-G10-LIT", "PLAN-G10-SCI"]
        expected = {
            plan: expected_rewrites(site, plan, MATHS_ONLY, neighbours=False) for plan in plans
        }
        before = snapshot(site)
        site.update(Doctype.LESSON_STAGE, "ST-MATHS-ONLY", config='{"body": "changed"}')
        site.notify(Doctype.LESSON_STAGE, "ST-MATHS-ONLY")
        site.batch()
        assert by_plan(rewritten(before, snapshot(site))) == expected

        # plans.json changes when a plan is retitled, unpublished or published again.
        plan = "PLAN-G10-LIT"
        before = snapshot(site)
        site.update(Doctype.PLAN, plan, title="Literature, renamed")
        site.notify(Doctype.PLAN, plan)
        site.batch()
        assert paths.PLANS_KEY in rewritten(before, snapshot(site))
        listed = {p["id"]: p["title"] for p in site.doc(paths.PLANS_KEY)["plans"]}
        assert listed[plan] == "Literature, renamed"
        assert sorted(listed) == sorted(PUBLISHED_DEMO_PLANS)

        before = snapshot(site)
        site.update(Doctype.PLAN, plan, is_published=0)
        site.notify(Doctype.PLAN, plan)
        site.batch()
        assert paths.PLANS_KEY in rewritten(before, snapshot(site))
        listed = {p["id"]: p["title"] for p in site.doc(paths.PLANS_KEY)["plans"]}
        assert sorted(listed) == sorted(set(PUBLISHED_DEMO_PLANS) - {plan})
        assert site.keys(plan) == set()

        before = snapshot(site)
        site.update(Doctype.PLAN, plan, is_published=1)
        site.notify(Doctype.PLAN, plan)
        site.batch()
        assert paths.PLANS_KEY in rewritten(before, snapshot(site))
        listed = {p["id"]: p["title"] for p in site.doc(paths.PLANS_KEY)["plans"]}
        assert sorted(listed) == sorted(PUBLISHED_DEMO_PLANS)

        # Every link in every file still resolves, with a matching version.
        with served(site.store.root, PREFIX) as base:
            assert_every_lesson_reached(walk(base), site.store)
        assert validate_tree(site.store.root) == []
    finally:
        site.close()
