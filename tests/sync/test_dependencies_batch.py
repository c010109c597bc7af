"""Events resolved together (`affected_plans_each`) reach exactly the plans each event
reaches alone: every case of the dependency table at once, with bulk lookups."""

from __future__ import annotations

from collections.abc import Collection

from test_dependencies_table import CASES, FakeCatalogue, FakeMembers

from memora_cdn.core.model import Doctype
from memora_cdn.sync.dependencies import affected_plans_each


class BulkCatalogue(FakeCatalogue):
    """The fake catalogue, answering bulk questions; `bulk` records each one."""

    def __init__(self) -> None:
        super().__init__()
        self.bulk: list[tuple[str, str, int]] = []

    def parents(self, doctype: Doctype, names: Collection[str]) -> dict[str, str | None]:
        self.bulk.append(("parents", doctype.value, len(names)))
        return {name: self.parent(doctype, name) for name in names}

    def plans_with_subjects(self, subjects: Collection[str]) -> dict[str, set[str]]:
        self.bulk.append(("plans_with_subjects", "", len(subjects)))
        return {subject: self.plans_with_subject(subject) for subject in subjects}


class BulkMembers(FakeMembers):
    def plans_with_members(self, doctype: str, names: Collection[str]) -> dict[str, set[str]]:
        return {name: self.plans_with_member(doctype, name) for name in names}


def test_every_case_resolved_together_reaches_its_own_plans() -> None:
    graph = BulkCatalogue()
    found = affected_plans_each([case.event for case in CASES], graph, BulkMembers())
    assert {case.id: frozenset(plans) for case, plans in zip(CASES, found, strict=True)} == {
        case.id: case.expected for case in CASES
    }
    # each question is asked once, whatever the number of events asking it
    assert len(graph.lookups) == len(set(graph.lookups))
    assert len(graph.bulk) < len(graph.lookups)


def test_no_events_ask_nothing() -> None:
    graph = BulkCatalogue()
    assert affected_plans_each([], graph, BulkMembers()) == []
    assert graph.lookups == []
