"""A reference client of the published contract, knowing only docs/format.md (issue 8, item 7).

It starts from `plans.json` (or from manifest links given to it), fetches over HTTP with the
standard library only, follows every link by URL resolution (`urljoin` against the URL of the
document holding it, as `new URL(link, documentUrl)` does), checks every `?v=` against the
SHA-256 of the bytes it receives, and reports each plan's visible tree. It imports nothing of
memora_cdn: if it can walk a store, so can an app written from the format document.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

Fetch = Callable[[str], bytes]
"""The body at a URL; raises `LookupError` (with the reason) when there is none."""


def http_fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        raise LookupError(f"HTTP {error.code}") from None


@dataclass
class Walk:
    """What a walk found: the visible tree of each plan and everything that went wrong."""

    trees: dict[str, list[str]] = field(default_factory=dict)
    """Per plan id, its visible tree as indented lines (`subject`, `  track`, …, lessons)."""
    lessons: dict[str, set[str]] = field(default_factory=dict)
    """Per plan id, the ids of the lessons reached through the tree."""
    searched: dict[str, set[str]] = field(default_factory=dict)
    """Per plan id, the ids of the lessons reached through the search index."""
    broken: list[str] = field(default_factory=list)
    """`holder: link -> url: reason` for every link that did not lead to a JSON document."""
    mismatches: list[str] = field(default_factory=list)
    """`holder: link -> url: ?v=… but the body hashes to …` for every stale version."""
    fetched: int = 0


class ReferenceClient:
    def __init__(self, fetch: Fetch = http_fetch) -> None:
        self._fetch = fetch
        self._bodies: dict[str, bytes | None] = {}
        self._errors: dict[str, str] = {}
        self.walk = Walk()

    # -- entry points -------------------------------------------------------------------

    def walk_plans(self, plans_url: str) -> Walk:
        """Walk every plan `plans.json` at `plans_url` lists."""
        plans = self._follow(plans_url, None, None)
        links = [plan.get("manifest_url") for plan in (plans or {}).get("plans", [])]
        return self.walk_manifests(plans_url, [link for link in links if isinstance(link, str)])

    def walk_manifests(self, base_url: str, links: Iterable[str]) -> Walk:
        """Walk the plans whose manifests these links (relative to `base_url`) name."""
        for link in links:
            self._plan(base_url, link)
        return self.walk

    # -- documents ------------------------------------------------------------------------

    def _plan(self, holder: str, link: str) -> None:
        url = urljoin(holder, link)
        manifest = self._follow(holder, link, None)
        if manifest is None:
            return
        plan = str(manifest.get("plan_id"))
        tree = self.walk.trees.setdefault(plan, [])
        reached = self.walk.lessons.setdefault(plan, set())
        for subject_item in manifest.get("subjects", []):
            tree.append(f"subject {subject_item['id']}: {subject_item['title']}")
            subject = self._follow(url, subject_item["url"], None)
            if subject is not None:
                self._subject(urljoin(url, subject_item["url"]), subject, tree, reached)
        self._search(url, manifest.get("search_index_url"), plan)

    def _subject(
        self, url: str, subject: dict[str, Any], tree: list[str], reached: set[str]
    ) -> None:
        for track in subject.get("tracks", []):
            tree.append(f"  track {track['id']}: {track['title']}")
            for unit_item in track.get("units", []):
                tree.append(f"    unit {unit_item['id']}: {unit_item['title']}")
                unit = self._follow(url, unit_item["url"], None)
                if unit is None:
                    continue
                unit_url = urljoin(url, unit_item["url"])
                for topic in unit.get("topics", []):
                    tree.append(f"      topic {topic['id']}: {topic['title']}")
                    for lesson_item in topic.get("lessons", []):
                        tree.append(f"        lesson {lesson_item['id']}: {lesson_item['title']}")
                        lesson = self._follow(unit_url, lesson_item["url"], lesson_item["id"])
                        if lesson is not None:
                            reached.add(str(lesson["id"]))

    def _search(self, manifest_url: str, link: object, plan: str) -> None:
        searched = self.walk.searched.setdefault(plan, set())
        if not isinstance(link, str):
            self.walk.broken.append(f"{manifest_url}: no search_index_url")
            return
        index = self._follow(manifest_url, link, None)
        if index is None:
            return
        index_url = urljoin(manifest_url, link)
        holders = [(index_url, index)]
        for shard_item in index.get("shards", []):
            shard = self._follow(index_url, shard_item["url"], None)
            if shard is not None:
                holders.append((urljoin(index_url, shard_item["url"]), shard))
        for holder, document in holders:
            for entry in document.get("entries", []):
                lesson = self._follow(holder, entry["url"], entry["lesson_id"])
                if lesson is not None:
                    searched.add(str(lesson["id"]))

    # -- links ----------------------------------------------------------------------------

    def _follow(self, holder: str, link: str | None, expected_id: object) -> Any:
        """The JSON document a link leads to, checked against its `?v=`; None if broken."""
        url = holder if link is None else urljoin(holder, link)
        where = f"{holder}: {link} -> {url}"
        body = self._get(url)
        if body is None:
            self.walk.broken.append(f"{where}: {self._errors[url]}")
            return None
        versions = parse_qs(urlsplit(url).query).get("v")
        digest = hashlib.sha256(body).hexdigest()
        if versions and not digest.startswith(versions[0]):
            self.walk.mismatches.append(f"{where}: ?v={versions[0]} but the body is {digest[:12]}")
        try:
            document = json.loads(body)
        except ValueError as error:
            self.walk.broken.append(f"{where}: not JSON ({error})")
            return None
        if expected_id is not None and document.get("id") != expected_id:
            self.walk.broken.append(f"{where}: holds {document.get('id')!r}, not {expected_id!r}")
        return document

    def _get(self, url: str) -> bytes | None:
        if url not in self._bodies:
            try:
                self._bodies[url] = self._fetch(url)
                self.walk.fetched += 1
            except LookupError as error:
                self._bodies[url] = None
                self._errors[url] = str(error)
        return self._bodies[url]
