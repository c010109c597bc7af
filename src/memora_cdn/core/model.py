"""Domain types: what a plan's catalogue snapshot is made of. The source adapter builds them;
access resolution, rendering and the publish diff work on them alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Doctype(StrEnum):
    """The Frappe doctypes memora-cdn reads, named as Frappe names them."""

    PLAN = "Memora Academic Plan"
    PLAN_SUBJECT = "Memora Plan Subject"
    PLAN_OVERRIDE = "Memora Plan Override"
    SUBJECT = "Memora Subject"
    TRACK = "Memora Track"
    UNIT = "Memora Unit"
    TOPIC = "Memora Topic"
    LESSON = "Memora Lesson"
    LESSON_STAGE = "Memora Lesson Stage"
    SEASON = "Memora Season"
    GRADE = "Memora Grade"
    STREAM = "Memora Stream"

    @property
    def table(self) -> str:
        return f"tab{self.value}"


class NodeKind(StrEnum):
    """A level of the content tree that carries access and can be overridden."""

    SUBJECT = "subject"
    TRACK = "track"
    UNIT = "unit"
    TOPIC = "topic"
    LESSON = "lesson"

    @property
    def doctype(self) -> Doctype:
        return _KIND_DOCTYPE[self]

    @property
    def child(self) -> NodeKind | None:
        return _KIND_CHILD[self]

    @classmethod
    def from_doctype(cls, doctype: str) -> NodeKind | None:
        for kind, dt in _KIND_DOCTYPE.items():
            if dt.value == doctype:
                return kind
        return None


_KIND_DOCTYPE = {
    NodeKind.SUBJECT: Doctype.SUBJECT,
    NodeKind.TRACK: Doctype.TRACK,
    NodeKind.UNIT: Doctype.UNIT,
    NodeKind.TOPIC: Doctype.TOPIC,
    NodeKind.LESSON: Doctype.LESSON,
}
_KIND_CHILD = {
    NodeKind.SUBJECT: NodeKind.TRACK,
    NodeKind.TRACK: NodeKind.UNIT,
    NodeKind.UNIT: NodeKind.TOPIC,
    NodeKind.TOPIC: NodeKind.LESSON,
    NodeKind.LESSON: None,
}


class AccessLevel(StrEnum):
    """A node's access level (SPEC §2): who may open it."""

    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    PAID = "paid"
    FREE_PREVIEW = "free_preview"


class OverrideAction(StrEnum):
    """What a plan override does to its target node."""

    HIDE = "Hide"
    RENAME = "Rename"
    SET_FREE = "Set Free"
    SET_ACCESS_LEVEL = "Set Access Level"
    SET_SOLD_SEPARATELY = "Set Sold Separately"
    SET_LINEAR = "Set Linear"


class StageType(StrEnum):
    """The kinds of lesson stage a player knows how to show."""

    VIDEO = "Video"
    QUESTION = "Question"
    TEXT = "Text"
    INTERACTIVE = "Interactive"


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan as loaded: its name, title and the titles of its season, grade and stream."""

    name: str
    title: str
    season: str | None = None
    """Titles of the linked Season/Grade/Stream (falling back to the link name)."""
    grade: str | None = None
    stream: str | None = None
    is_published: bool = True


@dataclass(frozen=True, slots=True)
class PlanSubject:
    """One `tabMemora Plan Subject` row: a subject the plan shows, and where."""

    subject: str
    sort_order: int = 0
    idx: int = 0


@dataclass(frozen=True, slots=True)
class Override:
    """One `tabMemora Plan Override` row, as stored (action not yet validated)."""

    target_doctype: str
    target_name: str
    action: str
    value: str | None = None
    idx: int = 0


@dataclass(frozen=True, slots=True)
class Node:
    """One content node (Subject, Track, Unit, Topic or Lesson) as stored.

    Fields that a level does not have keep their defaults: only a Subject has
    `color_code` and `is_public`, only Subject and Track have `required_item`, and so on.
    """

    kind: NodeKind
    name: str
    title: str
    parent: str | None = None
    description: str | None = None
    image: str | None = None
    sort_order: int = 0
    is_published: bool = True
    is_free_preview: bool = False
    is_linear: bool = False
    color_code: str | None = None
    badge_image: str | None = None
    is_public: bool = False
    required_item: str | None = None
    is_sold_separately: bool = False
    parent_item_required: bool = False


@dataclass(frozen=True, slots=True)
class Stage:
    """One `tabMemora Lesson Stage` row; `config` is the raw JSON text."""

    lesson: str
    idx: int
    name: str
    title: str
    type: str
    weight: float = 1.0
    target_time: int | None = None
    is_skippable: bool = False
    config: str | None = None


@dataclass(frozen=True, slots=True)
class Orphan:
    """A row whose parent link is empty or names a row that does not exist."""

    doctype: Doctype
    name: str
    parent_doctype: Doctype
    parent: str | None

    @property
    def member(self) -> tuple[str, str]:
        """How a plan's members (`cdn_plan_member`) name this row."""
        return (self.doctype.value, self.name)

    def warning(self) -> str:
        if self.parent:
            problem = f"parent {self.parent_doctype.value} {self.parent!r} not found"
        else:
            problem = f"no parent {self.parent_doctype.value} set"
        return f"{self.doctype.value} {self.name!r}: {problem}; skipped (orphan)"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one plan's build reads from the source, loaded in a few queries."""

    plan: Plan
    subjects: tuple[PlanSubject, ...] = ()
    overrides: tuple[Override, ...] = ()
    nodes: tuple[Node, ...] = ()
    stages: tuple[Stage, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    """Problems found while loading: repaired bad values, and orphans this plan published
    before."""


class SyncStatus(StrEnum):
    """The status of a sync log row."""

    QUEUED = "Queued"
    PROCESSING = "Processing"
    SUCCESS = "Success"
    FAILED = "Failed"
    DEAD_LETTER = "Dead Letter"


class Trigger(StrEnum):
    """What started a sync log row."""

    SCHEDULER = "Scheduler"
    THRESHOLD = "Threshold"
    MANUAL = "Manual"
    FALLBACK_RECOVERY = "Fallback Recovery"
