"""Visibility and access resolution (SPEC §2): one pass, top-down, per plan.
Design notes: docs/decisions/access-resolution.md"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from memora_cdn.core.model import (
    AccessLevel,
    Doctype,
    Node,
    NodeKind,
    Override,
    OverrideAction,
    Plan,
    Snapshot,
    Stage,
)

_TRUE_WORDS = frozenset({"1", "true", "yes"})
_OWN_ITEM_KINDS = frozenset({NodeKind.SUBJECT, NodeKind.TRACK})
_LINEAR_KINDS = frozenset({NodeKind.SUBJECT, NodeKind.TRACK, NodeKind.UNIT, NodeKind.TOPIC})


@dataclass(frozen=True, slots=True)
class Access:
    """The access block every node of every file carries."""

    level: AccessLevel
    required_item: str | None = None
    is_sold_separately: bool = False
    parent_item_required: bool = False

    def as_json(self) -> dict[str, object]:
        block: dict[str, object] = {
            "is_published": True,
            "access_level": self.level.value,
            "is_sold_separately": self.is_sold_separately,
            "parent_item_required": self.parent_item_required,
        }
        if self.level is AccessLevel.PAID:
            block["required_item"] = self.required_item
        return block


@dataclass(frozen=True, slots=True)
class ResolvedNode:
    """A node as one plan shows it: overrides applied, access resolved, children ordered."""

    node: Node
    title: str
    is_linear: bool
    access: Access
    children: tuple[ResolvedNode, ...] = ()

    @property
    def kind(self) -> NodeKind:
        return self.node.kind

    @property
    def name(self) -> str:
        return self.node.name

    def walk(self) -> Iterator[ResolvedNode]:
        """This node and every node below it, depth first, in display order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def descendants(self, kind: NodeKind) -> Iterator[ResolvedNode]:
        return (n for n in self.walk() if n.kind is kind)


@dataclass(frozen=True, slots=True)
class ResolvedPlan:
    """A plan as it publishes: its visible subjects, lesson stages and warnings."""

    plan: Plan
    subjects: tuple[ResolvedNode, ...]
    stages: Mapping[str, tuple[Stage, ...]]
    """Stages of every published lesson, by lesson name, in `idx` order."""
    warnings: tuple[str, ...] = field(default=())

    def walk(self) -> Iterator[ResolvedNode]:
        for subject in self.subjects:
            yield from subject.walk()


@dataclass(frozen=True, slots=True)
class _Anchor:
    """The nearest paid ancestor: where an inherited `required_item` comes from."""

    item: str
    kind: NodeKind
    parent_item_required: bool


def is_path_segment(name: str) -> bool:
    """Whether a document name can be a path segment once percent-encoded."""
    return name not in ("", ".", "..")


def resolve(snapshot: Snapshot) -> ResolvedPlan:
    """The tree a plan publishes, from its raw snapshot (SPEC §2)."""
    warnings: list[str] = list(snapshot.warnings)
    nodes = {(n.kind, n.name): n for n in snapshot.nodes}
    overrides = _collect_overrides(snapshot.overrides, nodes, warnings)
    children: dict[tuple[NodeKind, str], list[Node]] = defaultdict(list)
    for node in snapshot.nodes:
        if node.kind is not NodeKind.SUBJECT and node.parent is not None:
            children[(node.kind, node.parent)].append(node)
    resolver = _Resolver(overrides, children, warnings)

    subjects: list[ResolvedNode] = []
    seen: set[str] = set()
    for row in sorted(snapshot.subjects, key=lambda r: (r.sort_order, r.idx)):
        if row.subject in seen:
            warnings.append(f"Memora Plan Subject: subject {row.subject!r} listed twice; kept once")
            continue
        seen.add(row.subject)
        subject = nodes.get((NodeKind.SUBJECT, row.subject))
        if subject is None:
            warnings.append(
                f"Memora Plan Subject: subject {row.subject!r} not found; skipped (orphan link)"
            )
            continue
        # In a plan, a subject is ordered (and shows its sort_order) as the plan lists it.
        subject = replace(subject, sort_order=row.sort_order)
        resolved = resolver.resolve(subject, None, None, None)
        if resolved is not None:
            subjects.append(resolved)

    lessons = {n.name for s in subjects for n in s.descendants(NodeKind.LESSON)}
    stages: dict[str, list[Stage]] = defaultdict(list)
    for stage in snapshot.stages:
        if stage.lesson not in lessons:
            continue
        if not is_path_segment(stage.name):
            warnings.append(
                f"{Doctype.LESSON_STAGE.value} {stage.name!r} of lesson {stage.lesson!r}: "
                "name cannot be a path segment; skipped"
            )
            continue
        stages[stage.lesson].append(stage)
    return ResolvedPlan(
        plan=snapshot.plan,
        subjects=tuple(subjects),
        stages={k: tuple(sorted(v, key=lambda s: (s.idx, s.name))) for k, v in stages.items()},
        warnings=tuple(warnings),
    )


def _collect_overrides(
    rows: Iterable[Override],
    nodes: Mapping[tuple[NodeKind, str], Node],
    warnings: list[str],
) -> dict[tuple[NodeKind, str], dict[OverrideAction, str | None]]:
    """Valid overrides by target; for one action on one target the last row (by idx) wins."""
    found: dict[tuple[NodeKind, str], dict[OverrideAction, str | None]] = defaultdict(dict)
    for row in sorted(rows, key=lambda r: r.idx):
        where = (
            f"Memora Plan Override row {row.idx} "
            f"({row.action} on {row.target_doctype} {row.target_name!r})"
        )
        try:
            action = OverrideAction(row.action)
        except ValueError:
            warnings.append(f"{where}: unknown action {row.action!r}; ignored")
            continue
        kind = NodeKind.from_doctype(row.target_doctype)
        if kind is None:
            warnings.append(
                f"{where}: doctype {row.target_doctype!r} cannot be overridden; ignored"
            )
            continue
        if (kind, row.target_name) not in nodes:
            warnings.append(f"{where}: target not found in this plan; ignored")
            continue
        problem = _override_problem(action, kind, row.value)
        if problem:
            warnings.append(f"{where}: {problem}; ignored")
            continue
        found[(kind, row.target_name)][action] = row.value
    return found


def _override_problem(action: OverrideAction, kind: NodeKind, value: str | None) -> str | None:
    if action is OverrideAction.SET_ACCESS_LEVEL:
        if value not in {level.value for level in AccessLevel}:
            return f"invalid access level {value!r}"
    elif action is OverrideAction.RENAME:
        if not (value and value.strip()):
            return "empty title"
    elif action is OverrideAction.SET_SOLD_SEPARATELY:
        if kind is not NodeKind.TRACK:
            return "only a Track can be sold separately"
    elif action is OverrideAction.SET_LINEAR and kind not in _LINEAR_KINDS:
        return f"a {kind.doctype.value} has no is_linear"
    return None


@dataclass(slots=True)
class _Resolver:
    overrides: Mapping[tuple[NodeKind, str], Mapping[OverrideAction, str | None]]
    children: Mapping[tuple[NodeKind, str], list[Node]]
    warnings: list[str]

    def resolve(
        self,
        node: Node,
        parent: Access | None,
        anchor: _Anchor | None,
        subject: Access | None,
    ) -> ResolvedNode | None:
        overrides = self.overrides.get((node.kind, node.name), {})
        if not node.is_published or OverrideAction.HIDE in overrides:
            return None
        if not is_path_segment(node.name):
            self.warnings.append(
                f"{node.kind.doctype.value} {node.name!r}: name cannot be a path segment; skipped"
            )
            return None
        access = self._access(node, overrides, parent, anchor, subject)
        if access.level is AccessLevel.PAID:
            assert access.required_item is not None
            anchor = _Anchor(access.required_item, node.kind, access.parent_item_required)
        title = overrides.get(OverrideAction.RENAME) or node.title
        is_linear = node.is_linear
        if OverrideAction.SET_LINEAR in overrides:
            is_linear = (overrides[OverrideAction.SET_LINEAR] or "").strip().lower() in _TRUE_WORDS
        kids: list[ResolvedNode] = []
        child_kind = node.kind.child
        if child_kind is not None:
            # Resolved in display order, so that the tree and its warnings do not depend on
            # the order of the snapshot's rows.
            for child in sorted(self.children.get((child_kind, node.name), ()), key=self._order):
                resolved = self.resolve(child, access, anchor, subject or access)
                if resolved is not None:
                    kids.append(resolved)
        return ResolvedNode(node, title, is_linear, access, tuple(kids))

    def _order(self, node: Node) -> tuple[int, str, str]:
        """Display order: `sort_order`, then title (after Rename), then name."""
        title = self.overrides.get((node.kind, node.name), {}).get(OverrideAction.RENAME)
        return (node.sort_order, title or node.title, node.name)

    def _access(
        self,
        node: Node,
        overrides: Mapping[OverrideAction, str | None],
        parent: Access | None,
        anchor: _Anchor | None,
        subject: Access | None,
    ) -> Access:
        own_item = node.required_item if node.kind in _OWN_ITEM_KINDS else None
        level = _level(node, overrides, parent, own_item)
        if level is not AccessLevel.PAID:
            return Access(level)
        if own_item:
            sold = node.kind is NodeKind.TRACK and (
                node.is_sold_separately or OverrideAction.SET_SOLD_SEPARATELY in overrides
            )
            needs_parent = (
                node.kind is NodeKind.TRACK
                and node.parent_item_required
                and subject is not None
                and subject.level is AccessLevel.PAID
            )
            return Access(level, own_item, sold, needs_parent)
        if anchor is None:
            self.warnings.append(
                f"{node.kind.doctype.value} {node.name!r}: access level 'paid' but no "
                "required_item on it or any ancestor; treated as 'authenticated'"
            )
            return Access(AccessLevel.AUTHENTICATED)
        from_subject = anchor.kind is NodeKind.SUBJECT
        return Access(level, anchor.item, False, from_subject or anchor.parent_item_required)


def _level(
    node: Node,
    overrides: Mapping[OverrideAction, str | None],
    parent: Access | None,
    own_item: str | None,
) -> AccessLevel:
    """The first rule of SPEC §2's level table that applies."""
    if OverrideAction.SET_ACCESS_LEVEL in overrides:
        return AccessLevel(overrides[OverrideAction.SET_ACCESS_LEVEL] or "")
    if OverrideAction.SET_FREE in overrides or node.is_free_preview:
        return AccessLevel.FREE_PREVIEW
    if own_item:
        return AccessLevel.PAID
    if parent is not None:
        return parent.level
    return AccessLevel.PUBLIC if node.is_public else AccessLevel.AUTHENTICATED
