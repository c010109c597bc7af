"""`plans.json` (SPEC §3): the store's list of published plans, each with its manifest link."""

from __future__ import annotations

from collections.abc import Iterable

from memora_cdn.core import paths
from memora_cdn.core.documents import Document, Published, finalize
from memora_cdn.core.links import link
from memora_cdn.core.model import Plan
from memora_cdn.core.paths import DocKind


def render_plans(plans: Iterable[Plan], previous: Published | None, now: int) -> Document:
    """The plans in title order (then name); unchanged content keeps its version and bytes.

    Manifests are short-cached entry points: their links carry no content version. Links are
    relative to `plans.json` (SPEC §3 "Links"), so a store under a prefix needs none of it here.
    """
    listed = [
        {
            "id": plan.name,
            "title": plan.title,
            **{
                name: value
                for name, value in (
                    ("season", plan.season),
                    ("grade", plan.grade),
                    ("stream", plan.stream),
                )
                if value is not None
            },
            "manifest_url": link(paths.PLANS_KEY, paths.manifest_key(plan.name)),
        }
        for plan in sorted(plans, key=lambda plan: (plan.title, plan.name))
    ]
    return finalize(paths.PLANS_KEY, DocKind.PLANS, {"plans": listed}, previous, now)
