"""Where change events come in: resolved to affected plans and queued (SPEC §5). `notify`,
the hook, `scan` and the webhook all end here: the same dependency rules, the same rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from memora_cdn.core.access import is_path_segment
from memora_cdn.core.events import Action, ChangeEvent, parse_doctype
from memora_cdn.core.model import Doctype, Trigger
from memora_cdn.errors import DocumentNotFoundError
from memora_cdn.publish import Clock, unusable_plan_warning
from memora_cdn.queue.base import PlanQueue
from memora_cdn.state.repo import StateRepository
from memora_cdn.sync.dependencies import BulkGraph, affected_plans_each


class DocumentGraph(BulkGraph, Protocol):
    """The catalogue's links, and one document by name (for `notify`)."""

    def document(self, doctype: Doctype, name: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What the events of one submission affected and queued."""

    plans: frozenset[str] = frozenset()
    """Every plan the events affect."""
    scheduled: tuple[str, ...] = ()
    """Those newly queued (the rest were already waiting)."""
    events: int = 0


class Intake:
    """Resolves change events to affected plans and queues them, with `Queued` rows."""

    def __init__(
        self,
        graph: DocumentGraph,
        state: StateRepository,
        queue: PlanQueue,
        clock: Clock,
    ) -> None:
        self.graph = graph
        self.state = state
        self.queue = queue
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(tzinfo=None)

    def submit(
        self, events: Iterable[ChangeEvent], *, trigger: Trigger = Trigger.SCHEDULER
    ) -> IntakeResult:
        each, scheduled = self.submit_each(list(events), trigger=trigger)
        return IntakeResult(frozenset().union(*each), tuple(scheduled), len(each))

    def submit_each(
        self, events: Sequence[ChangeEvent], *, trigger: Trigger = Trigger.SCHEDULER
    ) -> tuple[list[frozenset[str]], list[str]]:
        """Each event's affected plans (the catalogue asked each question once for them
        all), and the plans newly queued: all of them queued together."""
        each = [frozenset(p) for p in affected_plans_each(events, self.graph, self.state)]
        scheduled = self.queue_plans(sorted(frozenset().union(*each)), trigger=trigger)
        return each, scheduled

    def queue_plans(self, plans: Iterable[str], *, trigger: Trigger) -> list[str]:
        """Queue plans, and log a `Queued` row for each one newly waiting. A plan whose name
        cannot be a path segment is never queued (no queue could hold `''`, and no build
        could publish it): its row says it was skipped, and why."""
        now = self.now()
        plans = list(plans)
        for plan in (p for p in plans if not is_path_segment(p)):
            self.state.log_skipped(plan, trigger, now, [unusable_plan_warning(plan)])
        scheduled = self.queue.enqueue([p for p in plans if is_path_segment(p)], now)
        for plan in scheduled:
            self.state.log_queued(plan, trigger, now)
        return scheduled

    def notify(
        self,
        doctype: str,
        name: str,
        action: Action = Action.UPDATE,
        old_name: str | None = None,
        *,
        trigger: Trigger = Trigger.MANUAL,
    ) -> IntakeResult:
        """A change named by hand (`memora-cdn notify`): the document must exist unless it
        was trashed or deleted. Unknown doctypes and missing documents queue nothing."""
        kind = parse_doctype(doctype)
        fields = self.graph.document(kind, name)
        if fields is None and not action.removes:
            raise DocumentNotFoundError(kind.value, name)
        event = ChangeEvent(kind, name, action, fields or {}, {}, old_name)
        return self.submit([event], trigger=trigger)
