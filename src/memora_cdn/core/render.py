"""Rendering (SPEC §3): a resolved plan becomes its documents, children before parents.
Design notes: docs/decisions/rendering.md"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from memora_cdn.core import paths
from memora_cdn.core.access import ResolvedNode, ResolvedPlan
from memora_cdn.core.documents import Document, Published, finalize, iso_utc, versioned_link
from memora_cdn.core.key_clash import check_keys
from memora_cdn.core.media_urls import holds_url
from memora_cdn.core.model import AccessLevel, Doctype, NodeKind, Stage, StageType
from memora_cdn.core.paths import DocKind
from memora_cdn.core.search import SearchEntry, render_search
from memora_cdn.core.strict_json import strict_json_object

ConfigSigner = Callable[[dict[str, Any], int], tuple[dict[str, Any], int | None]]
"""Signs the media URLs of a stage config at a build time: (config, earliest expiry or None)."""


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How a plan is rendered: search sharding limits and media URL signing."""

    shard_threshold: int
    shard_max_bytes: int
    sign: ConfigSigner | None = None
    """Signs media URLs in stage configs (SPEC §3 signed media); None: no signing."""
    media_keys: tuple[str, ...] = ()
    """The `signed_keys` setting: with no signer, a paid lesson holding URLs under these
    config keys is named in a warning (its media is open to anyone with the link)."""


@dataclass(frozen=True, slots=True)
class Rendering:
    """A rendered plan: its documents, warnings and members."""

    plan: str
    documents: tuple[Document, ...]
    """Every document of the plan, in upload order (children first, manifest last)."""
    warnings: tuple[str, ...]
    members: frozenset[tuple[str, str]]
    """(doctype, name) of every node and lesson stage the plan shows."""
    lessons: int = 0


def render_plan(
    resolved: ResolvedPlan,
    previous: Mapping[str, Published],
    now: int,
    options: RenderOptions,
) -> Rendering:
    """The documents of a resolved plan, versioned against `previous`, built at `now`."""
    return _Renderer(resolved, previous, now, options).render()


def _optional(**fields: Any) -> dict[str, Any]:
    """Only the fields that have a value: optional fields are omitted, never null."""
    return {k: v for k, v in fields.items() if v is not None}


_EXTRA_TEXT: dict[NodeKind, tuple[str, ...]] = {
    NodeKind.SUBJECT: ("color_code",),
    NodeKind.UNIT: ("badge_image",),
}


def _describe(node: ResolvedNode) -> dict[str, Any]:
    """How a node is listed in its parent's file: id, title and its optional texts."""
    texts = {"description": node.node.description, "image": node.node.image}
    for name in _EXTRA_TEXT.get(node.kind, ()):
        texts[name] = getattr(node.node, name)
    return {"id": node.name, "title": node.title, **_optional(**texts)}


def _count(node: ResolvedNode, kind: NodeKind) -> int:
    return sum(1 for _ in node.descendants(kind))


class _Renderer:
    def __init__(
        self,
        resolved: ResolvedPlan,
        previous: Mapping[str, Published],
        now: int,
        options: RenderOptions,
    ) -> None:
        self.resolved = resolved
        self.plan = resolved.plan.name
        self.previous = previous
        self.now = now
        self.options = options
        self.warnings: list[str] = list(resolved.warnings)
        self.documents: list[Document] = []
        self.unsigned: dict[str, None] = {}
        """Paid lessons with media URLs that no signer signs, in render order."""
        self.lessons: dict[str, Document] = {}
        """Each lesson's file by lesson name, for the search entries that link it."""

    def render(self) -> Rendering:
        subject_docs = [self._subject(subject) for subject in self.resolved.subjects]
        entries = [
            SearchEntry(
                lesson_id=lesson.name,
                lesson_title=lesson.title,
                topic_id=topic.name,
                unit_id=unit.name,
                unit_title=unit.title,
                subject_id=subject.name,
                subject_title=subject.title,
                access_level=lesson.access.level.value,
                lesson=self.lessons[lesson.name],
            )
            for subject in self.resolved.subjects
            for track in subject.children
            for unit in track.children
            for topic in unit.children
            for lesson in topic.children
        ]
        search_docs = render_search(
            self.plan,
            entries,
            subject_titles={s.name: s.title for s in self.resolved.subjects},
            finalize=self._finalize,
            shard_threshold=self.options.shard_threshold,
            shard_max_bytes=self.options.shard_max_bytes,
            now=self.now,
        )
        search_index = search_docs[-1]
        self._manifest(subject_docs, search_index)
        if self.unsigned:
            count = len(self.unsigned)
            self.warnings.append(
                f"paid lesson {next(iter(self.unsigned))!r} has unsigned media: set signer "
                f"({count} paid lesson{'s' if count > 1 else ''} with unsigned media in this plan)"
            )
        ordered = sorted(self.documents, key=lambda d: d.kind.upload_rank)
        check_keys(self.plan, ordered)
        stage = Doctype.LESSON_STAGE.value
        members = frozenset(
            [(n.kind.doctype.value, n.name) for n in self.resolved.walk()]
            + [(stage, s.name) for stages in self.resolved.stages.values() for s in stages]
        )
        return Rendering(
            plan=self.plan,
            documents=tuple(ordered),
            warnings=tuple(self.warnings),
            members=members,
            lessons=len(entries),
        )

    def _finalize(
        self,
        key: str,
        kind: DocKind,
        content: Mapping[str, Any],
        expires_at: int | None = None,
    ) -> Document:
        document = finalize(key, kind, content, self.previous.get(key), self.now, expires_at)
        self.documents.append(document)
        return document

    # -- lessons ----------------------------------------------------------------------

    def _lessons(self, unit: ResolvedNode, parent: dict[str, str]) -> dict[str, Document]:
        ordered = [(topic, lesson) for topic in unit.children for lesson in topic.children]
        documents: dict[str, Document] = {}
        for position, (topic, lesson) in enumerate(ordered):
            navigation: dict[str, Any] = {}
            if position > 0:
                before = ordered[position - 1][1]
                navigation["previous"] = {"id": before.name, "title": before.title}
            if position + 1 < len(ordered):
                after = ordered[position + 1][1]
                navigation["next"] = {"id": after.name, "title": after.title}
            content = {
                "id": lesson.name,
                "plan_id": self.plan,
                "title": lesson.title,
                **_optional(description=lesson.node.description, image=lesson.node.image),
                "access": lesson.access.as_json(),
                "parent": {"topic_id": topic.name, "topic_title": topic.title, **parent},
                "navigation": navigation,
                "stages": [],
            }
            content["stages"], expires_at = self._stages(lesson)
            if expires_at is not None:
                content["signed_url_expires_at"] = iso_utc(expires_at)
            documents[lesson.name] = self._finalize(
                paths.lesson_key(self.plan, lesson.name), DocKind.LESSON, content, expires_at
            )
            self.lessons[lesson.name] = documents[lesson.name]
        return documents

    def _stages(self, lesson: ResolvedNode) -> tuple[list[dict[str, Any]], int | None]:
        """The lesson's stages as rendered, and when the first signed URL in them expires."""
        rendered: list[dict[str, Any]] = []
        expiries: list[int] = []
        for stage in self.resolved.stages.get(lesson.name, ()):
            where = f"Memora Lesson Stage {stage.name!r} of lesson {lesson.name!r}"
            try:
                kind = StageType(stage.type)
            except ValueError:
                self.warnings.append(f"{where}: unknown stage type {stage.type!r}; skipped")
                continue
            config = self._config(stage, where)
            if self.options.sign is not None:
                config, expires_at = self.options.sign(config, self.now)
                if expires_at is not None:
                    expiries.append(expires_at)
            elif (
                self.options.media_keys
                and lesson.access.level is AccessLevel.PAID
                and lesson.name not in self.unsigned
                and holds_url(config, frozenset(self.options.media_keys))
            ):
                self.unsigned[lesson.name] = None
            rendered.append(
                {
                    "idx": len(rendered) + 1,
                    **_optional(title=stage.title or None),
                    "type": kind.value,
                    "weight": max(stage.weight, 0.0),
                    **_optional(target_time=stage.target_time),
                    "is_skippable": stage.is_skippable,
                    "config": config,
                }
            )
        return rendered, min(expiries, default=None)

    def _config(self, stage: Stage, where: str) -> dict[str, Any]:
        if stage.config is None or not stage.config.strip():
            return {}
        config, problem = strict_json_object(stage.config)
        if problem is not None:
            self.warnings.append(f"{where}: config {problem}; rendered as {{}}")
        return config

    # -- units, subjects, manifest ---------------------------------------------------------

    def _unit(self, unit: ResolvedNode, track: ResolvedNode, subject: ResolvedNode) -> Document:
        parent = {
            "track_id": track.name,
            "track_title": track.title,
            "subject_id": subject.name,
            "subject_title": subject.title,
        }
        lesson_docs = self._lessons(
            unit, {"unit_id": unit.name, "unit_title": unit.title, **parent}
        )
        key = paths.unit_key(self.plan, unit.name)
        topics = [
            {
                **_describe(topic),
                "sort_order": topic.node.sort_order,
                "is_linear": topic.is_linear,
                "access": topic.access.as_json(),
                "lessons": [
                    {
                        **_describe(lesson),
                        "sort_order": lesson.node.sort_order,
                        "url": versioned_link(key, lesson_docs[lesson.name]),
                        "access": lesson.access.as_json(),
                        "stage_count": len(lesson_docs[lesson.name].content["stages"]),
                    }
                    for lesson in topic.children
                ],
            }
            for topic in unit.children
        ]
        content = {
            "id": unit.name,
            "plan_id": self.plan,
            "title": unit.title,
            **_optional(
                description=unit.node.description,
                image=unit.node.image,
                badge_image=unit.node.badge_image,
            ),
            "is_linear": unit.is_linear,
            "access": unit.access.as_json(),
            "parent": parent,
            "topics": topics,
            "stats": {"topics": len(unit.children), "lessons": _count(unit, NodeKind.LESSON)},
        }
        return self._finalize(key, DocKind.UNIT, content)

    def _subject(self, subject: ResolvedNode) -> Document:
        key = paths.subject_key(self.plan, subject.name)
        tracks = []
        for track in subject.children:
            units = []
            for unit in track.children:
                document = self._unit(unit, track, subject)
                units.append(
                    {
                        **_describe(unit),
                        "sort_order": unit.node.sort_order,
                        "is_linear": unit.is_linear,
                        "url": versioned_link(key, document),
                        "access": unit.access.as_json(),
                        "stats": document.content["stats"],
                    }
                )
            tracks.append(
                {
                    **_describe(track),
                    "sort_order": track.node.sort_order,
                    "is_linear": track.is_linear,
                    "access": track.access.as_json(),
                    "units": units,
                }
            )
        content = {
            "id": subject.name,
            "plan_id": self.plan,
            "title": subject.title,
            **_optional(
                description=subject.node.description,
                image=subject.node.image,
                color_code=subject.node.color_code,
            ),
            "is_linear": subject.is_linear,
            "access": subject.access.as_json(),
            "tracks": tracks,
            "stats": _stats(subject),
        }
        return self._finalize(key, DocKind.SUBJECT, content)

    def _manifest(self, subject_docs: list[Document], search_index: Document) -> Document:
        plan = self.resolved.plan
        manifest_key = paths.manifest_key(self.plan)
        subjects = [
            {
                **_describe(subject),
                "sort_order": subject.node.sort_order,
                "is_linear": subject.is_linear,
                "url": versioned_link(manifest_key, document),
                "access": subject.access.as_json(),
                "stats": document.content["stats"],
            }
            for subject, document in zip(self.resolved.subjects, subject_docs, strict=True)
        ]
        totals = {"subjects": len(subjects)}
        for key in ("tracks", "units", "topics", "lessons"):
            totals[key] = sum(s["stats"][key] for s in subjects)
        content = {
            "plan_id": plan.name,
            "title": plan.title,
            **_optional(season=plan.season, grade=plan.grade, stream=plan.stream),
            "subjects": subjects,
            "search_index_url": versioned_link(manifest_key, search_index),
            "stats": totals,
        }
        return self._finalize(manifest_key, DocKind.MANIFEST, content)


def _stats(subject: ResolvedNode) -> dict[str, int]:
    return {
        "tracks": _count(subject, NodeKind.TRACK),
        "units": _count(subject, NodeKind.UNIT),
        "topics": _count(subject, NodeKind.TOPIC),
        "lessons": _count(subject, NodeKind.LESSON),
    }
