"""Links (SPEC §3 "Links"): relative references in URL form, one pair of pure functions."""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memora_cdn.core import paths
from memora_cdn.core.links import key_url, link, link_version, resolve_link

AWKWARD = ["L1", "درس أول", "50% off", "a b", "a/b", "x~y", "é" * 150, "؟:#?&=+"]
names = st.one_of(st.sampled_from(AWKWARD), st.text(min_size=1, max_size=300)).filter(
    lambda name: name not in (".", "..")
)


def _keys(plan: str, name: str) -> list[str]:
    return [
        paths.manifest_key(plan),
        paths.subject_key(plan, name),
        paths.unit_key(plan, name),
        paths.lesson_key(plan, name),
        paths.search_index_key(plan),
        paths.search_shard_key(plan, name),
        paths.search_shard_key(plan, name, 2),
        "plans.json",
    ]


@given(plan=names, name=names, other=names)
def test_resolving_a_link_against_its_holder_gives_back_the_target_key(
    plan: str, name: str, other: str
) -> None:
    for holder in _keys(plan, name):
        for target in _keys(plan, other):
            reference = link(holder, target, "0123456789ab")
            assert resolve_link(holder, reference) == target
            assert link_version(reference) == "0123456789ab"


@given(plan=names, name=names)
def test_a_link_followed_under_any_base_url_reaches_the_file_a_web_server_decodes(
    plan: str, name: str
) -> None:
    # What a browser does (`new URL(link, documentUrl)`) and a static server or S3 then does
    # (percent-decode the path once) must give the file named by the key.
    base = "https://cdn.example/some%20prefix/v1/"
    holder, target = paths.unit_key(plan, name), paths.lesson_key(plan, name)
    url = urljoin(base + key_url(holder), link(holder, target, None))
    assert unquote(urlsplit(url).path) == unquote(urlsplit(base).path) + target


def test_links_from_each_kind_of_document_have_the_spec_examples_form() -> None:
    assert link("plans/P/manifest.json", "plans/P/subjects/S1.json", "v") == "subjects/S1.json?v=v"
    assert link("plans/P/units/U.json", "plans/P/lessons/L1.json", "v") == "../lessons/L1.json?v=v"
    assert link("plans/P/search/S/1.json", "plans/P/lessons/L.json") == "../../lessons/L.json"
    assert link("plans.json", "plans/P/manifest.json") == "plans/P/manifest.json"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a b", "../lessons/a%2520b.json"),
        ("50% off", "../lessons/50%2525%2520off.json"),
        ("درس", "../lessons/%25D8%25AF%25D8%25B1%25D8%25B3.json"),
    ],
)
def test_a_link_encodes_its_keys_percent_encoded_segment_once_more(
    name: str, expected: str
) -> None:
    # Before: the link was the key itself, which a server decodes to `a b.json`, not the
    # file `a%20b.json` that the folder store wrote.
    assert link(paths.unit_key("P", "U"), paths.lesson_key("P", name)) == expected


@pytest.mark.parametrize(
    "reference", ["https://elsewhere.example/plans/P/manifest.json", "../../../../x.json"]
)
def test_a_link_leading_out_of_the_store_resolves_to_no_key(reference: str) -> None:
    assert resolve_link("plans/P/units/U.json", reference) is None


def test_the_url_form_of_a_key_encodes_each_segment_and_keeps_the_slashes() -> None:
    assert key_url("cdn/plans/P%201/lessons/a%2Fb.json") == (
        "cdn/plans/P%25201/lessons/a%252Fb.json"
    )
