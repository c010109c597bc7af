"""Build in-memory snapshots for tests of the pure core, without a database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memora_cdn.core.model import Node, NodeKind, Override, Plan, PlanSubject, Snapshot, Stage


@dataclass
class Tree:
    """A plan's catalogue, added to node by node; `snapshot()` freezes it."""

    plan: str = "P1"
    title: str = "Plan One"
    nodes: list[Node] = field(default_factory=list)
    subjects: list[PlanSubject] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)

    def subject(self, name: str, **fields: Any) -> Tree:
        self.subjects.append(PlanSubject(name, fields.pop("plan_sort", 0), len(self.subjects)))
        fields.setdefault("is_linear", True)
        return self._add(NodeKind.SUBJECT, name, None, fields)

    def track(self, name: str, subject: str, **fields: Any) -> Tree:
        return self._add(NodeKind.TRACK, name, subject, fields)

    def unit(self, name: str, track: str, **fields: Any) -> Tree:
        return self._add(NodeKind.UNIT, name, track, fields)

    def topic(self, name: str, unit: str, **fields: Any) -> Tree:
        return self._add(NodeKind.TOPIC, name, unit, fields)

    def lesson(self, name: str, topic: str, **fields: Any) -> Tree:
        return self._add(NodeKind.LESSON, name, topic, fields)

    def stage(self, lesson: str, type_: str = "Text", config: str | None = "{}", **f: Any) -> Tree:
        idx = sum(1 for s in self.stages if s.lesson == lesson) + 1
        name = f.pop("name", f"{lesson}-S{idx}")
        self.stages.append(
            Stage(
                lesson=lesson,
                idx=idx,
                name=name,
                title=f.pop("title", f"Stage {idx}"),
                type=type_,
                config=config,
                **f,
            )
        )
        return self

    def override(self, doctype: str, target: str, action: str, value: str | None = None) -> Tree:
        self.overrides.append(
            Override(f"Memora {doctype}", target, action, value, len(self.overrides) + 1)
        )
        return self

    def _add(self, kind: NodeKind, name: str, parent: str | None, fields: dict[str, Any]) -> Tree:
        fields.setdefault("title", name)
        self.nodes.append(Node(kind=kind, name=name, parent=parent, **fields))
        return self

    def snapshot(self) -> Snapshot:
        return Snapshot(
            plan=Plan(self.plan, self.title),
            subjects=tuple(self.subjects),
            overrides=tuple(self.overrides),
            nodes=tuple(self.nodes),
            stages=tuple(self.stages),
        )


def regular_tree(
    plan: str = "P1",
    subjects: int = 1,
    tracks: int = 1,
    units: int = 1,
    topics: int = 1,
    lessons: int = 1,
    stages: int = 1,
) -> Tree:
    """A full tree with the given fan-out at every level; names like S1, S1T1, S1T1U1 …"""
    tree = Tree(plan)
    for s in range(1, subjects + 1):
        sn = f"S{s}"
        tree.subject(sn, title=f"Subject {s}", sort_order=s)
        for t in range(1, tracks + 1):
            tn = f"{sn}T{t}"
            tree.track(tn, sn, sort_order=t)
            for u in range(1, units + 1):
                un = f"{tn}U{u}"
                tree.unit(un, tn, sort_order=u)
                for p in range(1, topics + 1):
                    pn = f"{un}P{p}"
                    tree.topic(pn, un, sort_order=p)
                    for lesson in range(1, lessons + 1):
                        ln = f"{pn}L{lesson}"
                        tree.lesson(ln, pn, title=f"Lesson {ln}", sort_order=lesson)
                        for _ in range(stages):
                            tree.stage(ln, "Text", '{"body": "hello"}')
    return tree
