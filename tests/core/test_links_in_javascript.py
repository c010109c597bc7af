"""SPEC §3 promises links that resolve with JavaScript's `new URL(link, documentUrl)` as with
Python's `urljoin`: checked here in Node.js (what a student app's JavaScript runs) on links
between documents with awkward names, under a base URL with a prefix."""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from memora_cdn.core import paths
from memora_cdn.core.links import key_url, link

NAMES = [
    "LES-00001",
    "درس الجبر الأول",
    "50% off",
    "a b+c&d=e?f#g",
    "colon:first",
    "...",
    "~tilde",
    "ملخص " * 40,  # long enough to be cut and hashed
]
BASE = "https://cdn.example.test/some/prefix/"
RESOLVE = """
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const pairs = JSON.parse(input);
  process.stdout.write(JSON.stringify(pairs.map(([ref, base]) => new URL(ref, base).href)));
});
"""


def _pairs() -> list[tuple[str, str, str]]:
    """(holding document's key, link it holds, target key) for links between the documents
    of a plan whose every name is awkward."""
    found = []
    for plan in NAMES[:3]:
        manifest = paths.manifest_key(plan)
        found.append(("plans.json", link("plans.json", manifest), manifest))
        for name in NAMES:
            subject, unit, lesson = (
                paths.subject_key(plan, name),
                paths.unit_key(plan, name),
                paths.lesson_key(plan, name),
            )
            shard = paths.search_shard_key(plan, name, 2)
            for source, target in (
                (manifest, subject),
                (subject, unit),
                (unit, lesson),
                (paths.search_index_key(plan), shard),
                (shard, lesson),
            ):
                found.append((source, link(source, target, "0123456789ab"), target))
    return found


def test_links_resolve_the_same_in_javascript_and_python_to_the_target_key() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: `new URL` cannot be checked here")
    pairs = _pairs()
    bases = [BASE + key_url(source) for source, _, _ in pairs]
    request = json.dumps([[ref, base] for (_, ref, _), base in zip(pairs, bases, strict=True)])
    done = subprocess.run(
        [node, "-e", RESOLVE], input=request, capture_output=True, text=True, check=True
    )
    in_javascript = json.loads(done.stdout)

    for (source, ref, target), base, resolved in zip(pairs, bases, in_javascript, strict=True):
        assert resolved == urljoin(base, ref), (source, ref)
        parts = urlsplit(resolved)
        assert parts.path.startswith("/some/prefix/"), (source, ref)
        assert unquote(parts.path.removeprefix("/some/prefix/")) == target, (source, ref)
        assert parts.query == ("" if target.endswith("manifest.json") else "v=0123456789ab")
