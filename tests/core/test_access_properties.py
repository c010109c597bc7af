"""Invariants of access resolution (SPEC §2) over randomly generated plans.

The generator builds 1-3 subjects with random tracks, units, topics and lessons, random flags
and items, names that repeat across levels (so overrides must match on doctype and name), a
few names that cannot be path segments, orphans, and random overrides of every action
(valid, invalid and on missing targets).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from memora_cdn.core.access import ResolvedNode, ResolvedPlan, resolve
from memora_cdn.core.model import (
    AccessLevel,
    Node,
    NodeKind,
    Override,
    OverrideAction,
    Plan,
    PlanSubject,
    Snapshot,
)

PROPERTY = settings(max_examples=200, deadline=None)

Key = tuple[NodeKind, str]

_PARENT_KIND = {kind.child: kind for kind in NodeKind if kind.child is not None}
_LEVELS = frozenset(level.value for level in AccessLevel)
_BAD_NAMES = ("", ".", "..")

_TITLES = st.sampled_from(["Alpha", "Beta", "Gamma"])
_ITEMS = st.sampled_from([None, None, None, "", "ITEM-A", "ITEM-B"])
_MOSTLY_TRUE = st.sampled_from([True, True, True, True, True, False])
_MOSTLY_FALSE = st.sampled_from([False, False, False, True])
_VALUES: dict[str, st.SearchStrategy[str | None]] = {
    OverrideAction.SET_ACCESS_LEVEL: st.sampled_from(
        [*sorted(_LEVELS), "premium", "", None, "PAID"]
    ),
    OverrideAction.RENAME: st.sampled_from(["Alpha", "Zulu", "", None]),
    OverrideAction.SET_LINEAR: st.sampled_from(["1", "true", "YES", "no", "0", None]),
}


# -- the generator ------------------------------------------------------------------------


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    used: dict[NodeKind, set[str]] = {kind: set() for kind in NodeKind}
    nodes: list[Node] = []

    def name_for(kind: NodeKind) -> str:
        taken = used[kind]
        name = f"n{len(taken)}"  # n0, n1, ... in every level: names repeat across kinds
        if draw(st.integers(0, 7)) == 0:
            bad = draw(st.sampled_from(_BAD_NAMES))
            if bad not in taken:
                name = bad
        taken.add(name)
        return name

    def grow(kind: NodeKind, parent: str | None) -> None:
        fields: dict[str, Any] = {
            "title": draw(_TITLES),
            "sort_order": draw(st.integers(0, 2)),
            "is_published": draw(_MOSTLY_TRUE),
            "is_free_preview": draw(_MOSTLY_FALSE),
            "is_linear": draw(st.booleans()),
        }
        if kind is NodeKind.SUBJECT:
            fields["is_public"] = draw(st.booleans())
        if kind in (NodeKind.SUBJECT, NodeKind.TRACK):
            fields["required_item"] = draw(_ITEMS)
        if kind is NodeKind.TRACK:
            fields["is_sold_separately"] = draw(st.booleans())
            fields["parent_item_required"] = draw(st.booleans())
        name = name_for(kind)
        nodes.append(Node(kind, name, parent=parent, **fields))
        if kind.child is not None:
            for _ in range(draw(st.integers(0, 2))):
                grow(kind.child, name)

    for _ in range(draw(st.integers(1, 3))):
        grow(NodeKind.SUBJECT, None)
    for _ in range(draw(st.integers(0, 1))):  # an orphan with a subtree of its own
        grow(draw(st.sampled_from([NodeKind.UNIT, NodeKind.TOPIC])), "missing-parent")

    subjects = [n.name for n in nodes if n.kind is NodeKind.SUBJECT]
    listed = [s for s in subjects if draw(_MOSTLY_TRUE)] + draw(
        st.lists(st.just("missing-subject"), max_size=1)
    )
    row_idx = draw(st.permutations(range(1, len(listed) + 1)))
    plan_subjects = tuple(
        PlanSubject(name, sort_order=draw(st.integers(0, 2)), idx=idx)
        for name, idx in zip(listed, row_idx, strict=True)
    )

    targets = [(n.kind, n.name) for n in nodes] + [(NodeKind.UNIT, "missing-node")]
    actions = [*(a.value for a in OverrideAction), OverrideAction.HIDE.value, "Lock"]
    count = draw(st.integers(0, 8))
    override_idx = draw(st.permutations(range(1, count + 1)))
    overrides: list[Override] = []
    for idx in override_idx:
        kind, name = draw(st.sampled_from(targets))
        action = draw(st.sampled_from(actions))
        value = draw(_VALUES[action]) if action in _VALUES else None
        overrides.append(Override(kind.doctype.value, name, action, value, idx))

    return Snapshot(
        plan=Plan("PLAN-1", "Plan 1"),
        subjects=plan_subjects,
        overrides=tuple(overrides),
        nodes=tuple(nodes),
    )


# -- reading the input and the output -----------------------------------------------------


def _key(node: Node | ResolvedNode) -> Key:
    return (node.kind, node.name)


def _parent_key(node: Node) -> Key | None:
    if node.kind is NodeKind.SUBJECT or node.parent is None:
        return None
    return (_PARENT_KIND[node.kind], node.parent)


def _actions(snapshot: Snapshot, key: Key) -> dict[str, list[Override]]:
    """The rows aimed at one node, by action, in idx order."""
    rows: dict[str, list[Override]] = {}
    for row in sorted(snapshot.overrides, key=lambda r: r.idx):
        if (NodeKind.from_doctype(row.target_doctype), row.target_name) == key:
            rows.setdefault(row.action, []).append(row)
    return rows


def _valid_level(snapshot: Snapshot, key: Key) -> str | None:
    """The Set Access Level value in force: the last row whose value is a level."""
    rows = _actions(snapshot, key).get(OverrideAction.SET_ACCESS_LEVEL, [])
    values = [r.value for r in rows if r.value in _LEVELS]
    return values[-1] if values else None


def _removed_here(snapshot: Snapshot, node: Node) -> bool:
    return not node.is_published or OverrideAction.HIDE in _actions(snapshot, _key(node))


def _expected_visible(snapshot: Snapshot) -> set[Key]:
    by_key = {_key(n): n for n in snapshot.nodes}
    listed = {row.subject for row in snapshot.subjects}

    def shown(key: Key | None) -> bool:
        node = by_key.get(key) if key is not None else None
        if node is None or _removed_here(snapshot, node) or node.name in _BAD_NAMES:
            return False
        if node.kind is NodeKind.SUBJECT:
            return node.name in listed
        return shown(_parent_key(node))

    return {key for key in by_key if shown(key)}


def _with_parents(plan: ResolvedPlan) -> Iterator[tuple[ResolvedNode, tuple[ResolvedNode, ...]]]:
    """Every visible node with its visible ancestors, nearest last."""

    def walk(
        node: ResolvedNode, above: tuple[ResolvedNode, ...]
    ) -> Iterator[tuple[ResolvedNode, tuple[ResolvedNode, ...]]]:
        yield node, above
        for child in node.children:
            yield from walk(child, (*above, node))

    for subject in plan.subjects:
        yield from walk(subject, ())


def _own_item(node: Node) -> str | None:
    if node.kind in (NodeKind.SUBJECT, NodeKind.TRACK) and node.required_item:
        return node.required_item
    return None


def _no_item_warning(node: ResolvedNode) -> str:
    return f"{node.kind.doctype.value} {node.name!r}: access level 'paid' but no required_item"


# -- the properties -----------------------------------------------------------------------


@PROPERTY
@given(snapshots())
def test_hide_and_unpublished_remove_the_whole_subtree(snapshot: Snapshot) -> None:
    by_key = {_key(n): n for n in snapshot.nodes}
    visible = {_key(n) for n in resolve(snapshot).walk()}
    for node in snapshot.nodes:
        chain_up: list[Node] = []
        key = _key(node)
        while key in by_key:
            chain_up.append(by_key[key])
            parent = _parent_key(by_key[key])
            if parent is None:
                break
            key = parent
        if any(_removed_here(snapshot, above) for above in chain_up):
            assert _key(node) not in visible, _key(node)


@PROPERTY
@given(snapshots())
def test_visible_means_every_ancestor_visible_and_nothing_else_dropped(
    snapshot: Snapshot,
) -> None:
    by_key = {_key(n): n for n in snapshot.nodes}
    plan = resolve(snapshot)
    seen: list[Key] = []
    for node, above in _with_parents(plan):
        seen.append(_key(node))
        source = by_key[_key(node)]
        assert node.node.name == source.name
        assert node.node.parent == source.parent
        if above:
            assert _parent_key(source) == _key(above[-1])
        else:
            assert source.kind is NodeKind.SUBJECT
    assert len(seen) == len(set(seen)), "a node appears twice"
    assert set(seen) == _expected_visible(snapshot)


@PROPERTY
@given(snapshots())
def test_a_node_is_never_more_open_than_its_parent_unless_a_rule_opens_it(
    snapshot: Snapshot,
) -> None:
    plan = resolve(snapshot)
    for node, above in _with_parents(plan):
        if not above:
            continue
        actions = _actions(snapshot, _key(node))
        if (
            _valid_level(snapshot, _key(node)) is not None
            or OverrideAction.SET_FREE in actions
            or node.node.is_free_preview
        ):
            continue
        expected = AccessLevel.PAID if _own_item(node.node) else above[-1].access.level
        if node.access.level is AccessLevel.AUTHENTICATED and expected is AccessLevel.PAID:
            assert any(w.startswith(_no_item_warning(node)) for w in plan.warnings)
        else:
            assert node.access.level is expected, _key(node)


@PROPERTY
@given(snapshots())
def test_rules_one_to_three_decide_the_level_when_they_apply(snapshot: Snapshot) -> None:
    plan = resolve(snapshot)
    for node in plan.walk():
        level = _valid_level(snapshot, _key(node))
        if level is None and (
            OverrideAction.SET_FREE in _actions(snapshot, _key(node)) or node.node.is_free_preview
        ):
            level = AccessLevel.FREE_PREVIEW.value
        if level is None:
            continue
        if level == AccessLevel.PAID and node.access.level is AccessLevel.AUTHENTICATED:
            assert any(w.startswith(_no_item_warning(node)) for w in plan.warnings)
        else:
            assert node.access.level.value == level, _key(node)


@PROPERTY
@given(snapshots(), st.randoms(use_true_random=False))
def test_resolution_is_deterministic_whatever_the_row_order(
    snapshot: Snapshot, random: Any
) -> None:
    def shuffled(rows: tuple[Any, ...]) -> tuple[Any, ...]:
        rows_list = list(rows)
        random.shuffle(rows_list)
        return tuple(rows_list)

    reordered = Snapshot(
        plan=snapshot.plan,
        subjects=shuffled(snapshot.subjects),
        overrides=shuffled(snapshot.overrides),
        nodes=shuffled(snapshot.nodes),
    )
    first = resolve(snapshot)
    assert resolve(snapshot) == first
    assert resolve(reordered) == first


@PROPERTY
@given(snapshots())
def test_required_item_is_present_exactly_when_paid(snapshot: Snapshot) -> None:
    for node, above in _with_parents(resolve(snapshot)):
        block = node.access.as_json()
        paid = node.access.level is AccessLevel.PAID
        assert ("required_item" in block) is paid
        if not paid:
            assert block["parent_item_required"] is False
            assert block["is_sold_separately"] is False
            continue
        item = block["required_item"]
        assert isinstance(item, str)
        assert item
        paid_above = [a for a in above if a.access.level is AccessLevel.PAID]
        own = _own_item(node.node)
        assert item == (own or paid_above[-1].access.required_item)


@PROPERTY
@given(snapshots())
def test_sold_separately_and_parent_item_required_follow_the_item(snapshot: Snapshot) -> None:
    for node, above in _with_parents(resolve(snapshot)):
        access = node.access
        own = _own_item(node.node)
        if access.is_sold_separately:
            assert node.kind is NodeKind.TRACK
            assert access.level is AccessLevel.PAID
            assert own is not None
        if access.level is not AccessLevel.PAID or node.kind is NodeKind.SUBJECT:
            assert access.parent_item_required is False
        elif own is not None:
            subject_paid = above[0].access.level is AccessLevel.PAID
            assert access.parent_item_required is (node.node.parent_item_required and subject_paid)
        else:
            anchor = next(a for a in reversed(above) if a.access.level is AccessLevel.PAID)
            expected = anchor.kind is NodeKind.SUBJECT or anchor.access.parent_item_required
            assert access.parent_item_required is expected
