"""Which plans one change event touches (SPEC §5), from the catalogue and member index given.
Design notes: docs/decisions/affected-plans.md"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from memora_cdn.core.events import CHILD_PARENTS, PARENT_LINKS, ChangeEvent
from memora_cdn.core.model import Doctype

__all__ = [
    "BulkGraph",
    "BulkMembers",
    "CatalogueGraph",
    "MemberIndex",
    "affected_plans",
    "affected_plans_each",
]


class CatalogueGraph(Protocol):
    """The catalogue as it is now, one parent link at a time."""

    def parent(self, doctype: Doctype, name: str) -> str | None:
        """The row's parent link value; None when the row does not exist or the link is empty."""
        ...

    def plans_with_subject(self, subject: str) -> set[str]:
        """Plans with a Plan Subject row for `subject`, published or not."""
        ...

    def plans_referencing(self, doctype: Doctype, name: str) -> set[str]:
        """Plans whose season, grade or stream (by `doctype`) is `name`."""
        ...


class MemberIndex(Protocol):
    """What each plan's last publish showed (`cdn_plan_member`)."""

    def plans_with_member(self, doctype: str, name: str) -> set[str]: ...


class BulkGraph(CatalogueGraph, Protocol):
    """A `CatalogueGraph` that also answers many questions of one kind in one lookup."""

    def parents(self, doctype: Doctype, names: Collection[str]) -> dict[str, str | None]:
        """`parent` of each name (every name a key)."""
        ...

    def plans_with_subjects(self, subjects: Collection[str]) -> dict[str, set[str]]:
        """`plans_with_subject` of each subject (every subject a key)."""
        ...


class BulkMembers(MemberIndex, Protocol):
    """A member index that also answers for many names at once."""

    def plans_with_members(self, doctype: str, names: Collection[str]) -> dict[str, set[str]]:
        """`plans_with_member` of each name (every name a key)."""
        ...


def affected_plans_each(
    events: Sequence[ChangeEvent], graph: BulkGraph, members: BulkMembers
) -> list[set[str]]:
    """`affected_plans` of each event, asking each question once and in bulk: the events
    are resolved together, a level of their walks at a time (one lookup per kind of
    question and level, whatever the number of events)."""
    lookups = _Recorder(graph, members)
    while True:
        found = [affected_plans(event, lookups, lookups) for event in events]
        if not lookups.answer_unanswered():
            return found


class _Recorder:
    """Answers what it was told; records any other question (answering "nothing" for now)
    so that `answer_unanswered` looks them all up at once."""

    def __init__(self, graph: BulkGraph, members: BulkMembers) -> None:
        self._graph = graph
        self._members = members
        self._parents: dict[tuple[Doctype, str], str | None] = {}
        self._subjects: dict[str, set[str]] = {}
        self._member_of: dict[tuple[str, str], set[str]] = {}
        self._referencing: dict[tuple[Doctype, str], set[str]] = {}
        self._asked: set[tuple[str, object, str]] = set()

    def parent(self, doctype: Doctype, name: str) -> str | None:
        if (doctype, name) not in self._parents:
            self._asked.add(("parent", doctype, name))
        return self._parents.get((doctype, name))

    def plans_with_subject(self, subject: str) -> set[str]:
        if subject not in self._subjects:
            self._asked.add(("subject", Doctype.SUBJECT, subject))
        return set(self._subjects.get(subject, ()))

    def plans_referencing(self, doctype: Doctype, name: str) -> set[str]:
        if (doctype, name) not in self._referencing:
            self._asked.add(("referencing", doctype, name))
        return set(self._referencing.get((doctype, name), ()))

    def plans_with_member(self, doctype: str, name: str) -> set[str]:
        if (doctype, name) not in self._member_of:
            self._asked.add(("member", doctype, name))
        return set(self._member_of.get((doctype, name), ()))

    def answer_unanswered(self) -> bool:
        """Look up every question asked but not answered; False when there was none."""
        if not self._asked:
            return False
        grouped: dict[tuple[str, object], list[str]] = {}
        for kind, doctype, name in sorted(self._asked, key=repr):
            grouped.setdefault((kind, doctype), []).append(name)
        self._asked.clear()
        for (kind, doctype), names in grouped.items():
            if kind == "parent":
                assert isinstance(doctype, Doctype)
                for name, parent in self._graph.parents(doctype, names).items():
                    self._parents[doctype, name] = parent
            elif kind == "subject":
                self._subjects.update(self._graph.plans_with_subjects(names))
            elif kind == "member":
                assert isinstance(doctype, str)
                found = self._members.plans_with_members(doctype, names)
                self._member_of.update(((doctype, n), plans) for n, plans in found.items())
            else:
                assert isinstance(doctype, Doctype)
                for name in names:
                    self._referencing[doctype, name] = self._graph.plans_referencing(doctype, name)
        return True


_REFERENCED = frozenset({Doctype.SEASON, Doctype.GRADE, Doctype.STREAM})
_PLAN_ROWS = frozenset({Doctype.PLAN_SUBJECT, Doctype.PLAN_OVERRIDE})


def affected_plans(event: ChangeEvent, graph: CatalogueGraph, members: MemberIndex) -> set[str]:
    """The names of every plan whose published files may change because of `event`."""
    doctype = event.doctype
    names = _names(event)
    if doctype is Doctype.PLAN:
        return set(names)
    if doctype in _REFERENCED:
        return {plan for name in names for plan in graph.plans_referencing(doctype, name)}

    walk = _Walk(graph)
    plans: set[str] = set()
    if doctype is Doctype.SUBJECT:
        for name in names:
            plans |= walk.plans_above(Doctype.SUBJECT, name)
    else:
        parent_doctype = PARENT_LINKS[doctype][1]
        for parent in _parents(event, graph):
            plans |= walk.plans_above(parent_doctype, parent)
            if doctype is Doctype.LESSON_STAGE:
                plans |= members.plans_with_member(parent_doctype.value, parent)
    if doctype not in _PLAN_ROWS:
        for name in names:
            plans |= members.plans_with_member(doctype.value, name)
    return plans


def _names(event: ChangeEvent) -> list[str]:
    """The document's name, then its old name when it had another one."""
    names = [event.name]
    if event.old_name and event.old_name != event.name:
        names.append(event.old_name)
    return names


def _parents(event: ChangeEvent, graph: CatalogueGraph) -> list[str]:
    """The document's parent now and, when different, before the change (either may be none).

    Now is what the event's `fields` say; when they do not carry the link (a partial event),
    what the catalogue says, which is nothing once the row is deleted.
    """
    column, _ = PARENT_LINKS[event.doctype]
    if column in event.fields:
        now = _link(event.doctype, event.fields)
    else:
        now = graph.parent(event.doctype, event.name)
    before = _link(event.doctype, event.before)
    return [parent for parent in dict.fromkeys((now, before)) if parent is not None]


def _link(doctype: Doctype, values: Mapping[str, Any]) -> str | None:
    """The parent link in a document's fields; None when empty or absent.

    A child row whose `parenttype` names another doctype belongs to no parent of ours.
    """
    column, parent_doctype = PARENT_LINKS[doctype]
    if doctype in CHILD_PARENTS:
        parenttype = values.get("parenttype")
        if parenttype not in (None, "", parent_doctype.value):
            return None
    value = values.get(column)
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


class _Walk:
    """Walks up the catalogue, remembering each lookup so a move's two walks share ancestors."""

    def __init__(self, graph: CatalogueGraph) -> None:
        self._graph = graph
        self._parents: dict[tuple[Doctype, str], str | None] = {}
        self._subjects: dict[str, set[str]] = {}

    def plans_above(self, doctype: Doctype, name: str) -> set[str]:
        """The plans that row `name` of `doctype` reaches; none when an ancestor is missing.

        Each step goes one level up, so the walk ends after at most five steps; the visited
        set is a second guard, against a parent map that could ever point back at itself.
        """
        visited: set[tuple[Doctype, str]] = set()
        while doctype not in (Doctype.SUBJECT, Doctype.PLAN):
            if (doctype, name) in visited:
                return set()
            visited.add((doctype, name))
            parent = self._parent(doctype, name)
            if parent is None:  # an orphan: no plan shows it, or anything below it
                return set()
            doctype, name = PARENT_LINKS[doctype][1], parent
        if doctype is Doctype.PLAN:
            return {name}
        if name not in self._subjects:
            self._subjects[name] = self._graph.plans_with_subject(name)
        return self._subjects[name]

    def _parent(self, doctype: Doctype, name: str) -> str | None:
        key = (doctype, name)
        if key not in self._parents:
            self._parents[key] = self._graph.parent(doctype, name)
        return self._parents[key]
