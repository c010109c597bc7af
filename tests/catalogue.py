"""Build Frappe-layout content rows for tests, through SQLAlchemy Core.

Rows are collected by a `CatalogueBuilder` and written by `insert()`, one multi-row INSERT per
table, into whatever tables the database actually has (see `create_content_schema`, or a
test's own drifted `Table` definitions). Every method returns the row's `name`::

    b = CatalogueBuilder(engine)
    b.season("2024-25", title="العام الدراسي ٢٠٢٤")
    b.plan("P1", title="Science", season="2024-25", subjects=["S1"])  # plan subject idx 1
    b.subject("S1", title="Mathematics", required_item="COURSE-001")
    b.track("T1", "S1")
    b.unit("U1", "T1")
    b.topic("TP1", "U1")
    b.lesson("L1", "TP1")
    b.stage("L1", type="Video", config={"video_url": "https://media.example/1.mp4"})
    b.override("P1", "Memora Unit", "U1", "Hide")
    b.insert()

Check fields take Python booleans and are stored as 0/1; `None` stores NULL, to exercise the
loader's defaults. Standard Frappe columns (`creation`, `modified`, `owner`, `docstatus`,
`idx`, and `parent`/`parentfield`/`parenttype` on child rows) are filled in. Child rows get
`idx` 1, 2, … per parent and field unless one is given. A value for a known field whose
column the table lacks is dropped (a drifted site simply has no such data); extra keyword
arguments name extra columns and must exist.

`build_catalogue(engine, ...)` writes a regular catalogue (every node with the same number of
children; subjects owned by one plan or shared by several) and returns its `CatalogueShape`:
with a `seed`, deterministic realistic content (Arabic and English titles, stage configs of
every type, a share of unpublished lessons) as the benchmark suite measures it.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from catalogue_text import CatalogueText
from memora_cdn.core.model import Doctype, NodeKind, StageType
from memora_cdn.source.schema import CHILD_TABLES, content_metadata

__all__ = [
    "CatalogueBuilder",
    "CatalogueShape",
    "build_catalogue",
    "count_statements",
    "create_content_schema",
]

Flag = bool | None
"""A check field: stored as 1/0, or NULL for None."""

_CHECK_FIELDS = frozenset(
    {
        "is_published",
        "is_free_preview",
        "is_public",
        "is_linear",
        "is_sold_separately",
        "parent_item_required",
        "is_skippable",
    }
)


def create_content_schema(engine: sa.Engine) -> None:
    """Create every content table of SPEC §1, as `memora-cdn init --content-schema` does."""
    content_metadata().create_all(engine)


@contextmanager
def count_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Collect the SQL text of every statement the engine sends to the database."""
    statements: list[str] = []

    def record(
        conn: sa.Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


class CatalogueBuilder:
    """Collects content rows; `insert()` writes them (and may be called again for more)."""

    def __init__(self, engine: sa.Engine, *, now: datetime | None = None) -> None:
        self.engine = engine
        self.now = (now or datetime(2024, 9, 1, 8, 0, 0, tzinfo=UTC)).replace(tzinfo=None)
        self._rows: dict[Doctype, list[dict[str, object]]] = defaultdict(list)
        self._next_idx: dict[tuple[Doctype, str, str], int] = defaultdict(int)

    # -- generic ------------------------------------------------------------------------

    def row(self, doctype: Doctype, name: str, **values: object) -> str:
        """Any row of any content table; standard columns are filled in."""
        row: dict[str, object] = {
            "name": name,
            "creation": self.now,
            "modified": self.now,
            "modified_by": "Administrator",
            "owner": "Administrator",
            "docstatus": 0,
            "idx": 0,
        }
        for key, value in values.items():
            row[key] = int(bool(value)) if key in _CHECK_FIELDS and value is not None else value
        self._rows[doctype].append(row)
        return name

    def child(
        self,
        doctype: Doctype,
        parent: str,
        *,
        name: str | None = None,
        idx: int | None = None,
        parentfield: str | None = None,
        parenttype: str | None = None,
        **values: object,
    ) -> str:
        """A child-table row; `idx` counts 1, 2, … per (parent, parentfield) by default."""
        parent_doctype, field = CHILD_TABLES[doctype]
        parentfield = field if parentfield is None else parentfield
        parenttype = parent_doctype.value if parenttype is None else parenttype
        key = (doctype, parent, parentfield)
        if idx is None:
            idx = self._next_idx[key] + 1
        self._next_idx[key] = max(self._next_idx[key], idx)
        if name is None:
            name = f"{parent}-{parentfield}-{idx}"
        return self.row(
            doctype,
            name,
            idx=idx,
            parent=parent,
            parentfield=parentfield,
            parenttype=parenttype,
            **values,
        )

    # -- plans --------------------------------------------------------------------------

    def plan(
        self,
        name: str,
        *,
        title: str | None = None,
        subjects: Sequence[str] = (),
        season: str | None = None,
        grade: str | None = None,
        stream: str | None = None,
        is_published: Flag = True,
        **extra: object,
    ) -> str:
        """An academic plan; `subjects` become plan subject rows (sort_order 0, idx 1, 2, …)."""
        self.row(
            Doctype.PLAN,
            name,
            title=name if title is None else title,
            season=season,
            grade=grade,
            stream=stream,
            is_published=is_published,
            **extra,
        )
        for subject in subjects:
            self.plan_subject(name, subject)
        return name

    def plan_subject(
        self,
        plan: str,
        subject: str,
        *,
        sort_order: int | None = 0,
        idx: int | None = None,
        name: str | None = None,
        parentfield: str | None = None,
        parenttype: str | None = None,
        **extra: object,
    ) -> str:
        return self.child(
            Doctype.PLAN_SUBJECT,
            plan,
            name=name,
            idx=idx,
            parentfield=parentfield,
            parenttype=parenttype,
            subject=subject,
            sort_order=sort_order,
            **extra,
        )

    def override(
        self,
        plan: str,
        target_doctype: Doctype | str,
        target_name: str,
        action: str,
        value: str | None = None,
        *,
        idx: int | None = None,
        name: str | None = None,
        parentfield: str | None = None,
        parenttype: str | None = None,
    ) -> str:
        return self.child(
            Doctype.PLAN_OVERRIDE,
            plan,
            name=name,
            idx=idx,
            parentfield=parentfield,
            parenttype=parenttype,
            target_doctype=str(target_doctype),
            target_name=target_name,
            action=action,
            override_value=value,
        )

    def season(self, name: str, *, title: str | None = None) -> str:
        return self.row(Doctype.SEASON, name, title=name if title is None else title)

    def grade(self, name: str, *, title: str | None = None) -> str:
        return self.row(Doctype.GRADE, name, title=name if title is None else title)

    def stream(self, name: str, *, title: str | None = None) -> str:
        return self.row(Doctype.STREAM, name, title=name if title is None else title)

    # -- the content tree ---------------------------------------------------------------

    def subject(
        self,
        name: str,
        *,
        title: str | None = None,
        description: str | None = None,
        image: str | None = None,
        color_code: str | None = None,
        sort_order: int | None = 0,
        is_published: Flag = True,
        is_free_preview: Flag = False,
        is_public: Flag = False,
        required_item: str | None = None,
        is_linear: Flag = True,
        **extra: object,
    ) -> str:
        return self.row(
            Doctype.SUBJECT,
            name,
            title=name if title is None else title,
            description=description,
            image=image,
            color_code=color_code,
            sort_order=sort_order,
            is_published=is_published,
            is_free_preview=is_free_preview,
            is_public=is_public,
            required_item=required_item,
            is_linear=is_linear,
            **extra,
        )

    def track(
        self,
        name: str,
        subject: str | None,
        *,
        title: str | None = None,
        description: str | None = None,
        image: str | None = None,
        sort_order: int | None = 0,
        is_published: Flag = True,
        is_free_preview: Flag = False,
        is_sold_separately: Flag = False,
        required_item: str | None = None,
        parent_item_required: Flag = False,
        is_linear: Flag = False,
        **extra: object,
    ) -> str:
        return self.row(
            Doctype.TRACK,
            name,
            title=name if title is None else title,
            description=description,
            image=image,
            sort_order=sort_order,
            parent_subject=subject,
            is_published=is_published,
            is_free_preview=is_free_preview,
            is_sold_separately=is_sold_separately,
            required_item=required_item,
            parent_item_required=parent_item_required,
            is_linear=is_linear,
            **extra,
        )

    def unit(
        self,
        name: str,
        track: str | None,
        *,
        title: str | None = None,
        description: str | None = None,
        image: str | None = None,
        badge_image: str | None = None,
        sort_order: int | None = 0,
        is_published: Flag = True,
        is_free_preview: Flag = False,
        is_linear: Flag = False,
        **extra: object,
    ) -> str:
        return self.row(
            Doctype.UNIT,
            name,
            title=name if title is None else title,
            description=description,
            image=image,
            badge_image=badge_image,
            sort_order=sort_order,
            parent_track=track,
            is_published=is_published,
            is_free_preview=is_free_preview,
            is_linear=is_linear,
            **extra,
        )

    def topic(
        self,
        name: str,
        unit: str | None,
        *,
        title: str | None = None,
        description: str | None = None,
        image: str | None = None,
        sort_order: int | None = 0,
        is_published: Flag = True,
        is_free_preview: Flag = False,
        is_linear: Flag = False,
        **extra: object,
    ) -> str:
        return self.row(
            Doctype.TOPIC,
            name,
            title=name if title is None else title,
            description=description,
            image=image,
            sort_order=sort_order,
            parent_unit=unit,
            is_published=is_published,
            is_free_preview=is_free_preview,
            is_linear=is_linear,
            **extra,
        )

    def lesson(
        self,
        name: str,
        topic: str | None,
        *,
        title: str | None = None,
        description: str | None = None,
        image: str | None = None,
        sort_order: int | None = 0,
        is_published: Flag = True,
        is_free_preview: Flag = False,
        **extra: object,
    ) -> str:
        return self.row(
            Doctype.LESSON,
            name,
            title=name if title is None else title,
            description=description,
            image=image,
            sort_order=sort_order,
            parent_topic=topic,
            is_published=is_published,
            is_free_preview=is_free_preview,
            **extra,
        )

    def stage(
        self,
        lesson: str,
        *,
        title: str | None = None,
        type: str | None = "Video",
        weight: float | None = 1.0,
        target_time: int | None = None,
        is_skippable: Flag = False,
        config: Mapping[str, object] | str | None = None,
        idx: int | None = None,
        name: str | None = None,
        parentfield: str | None = None,
        parenttype: str | None = None,
        **extra: object,
    ) -> str:
        """A lesson stage; a mapping `config` is stored as JSON text, a string as is."""
        text = config if config is None or isinstance(config, str) else json.dumps(config)
        return self.child(
            Doctype.LESSON_STAGE,
            lesson,
            name=name,
            idx=idx,
            parentfield=parentfield,
            parenttype=parenttype,
            title=title,
            type=type,
            weight=weight,
            target_time=target_time,
            is_skippable=is_skippable,
            config=text,
            **extra,
        )

    # -- writing ------------------------------------------------------------------------

    def counts(self) -> dict[Doctype, int]:
        """Rows collected and not yet inserted, per doctype."""
        return {doctype: len(rows) for doctype, rows in self._rows.items() if rows}

    def insert(self) -> None:
        """Write the collected rows (one executemany per table) and forget them."""
        if not self._rows:
            return
        metadata = sa.MetaData()
        with self.engine.begin() as conn:
            present = set(sa.inspect(conn).get_table_names())
            for doctype, rows in self._rows.items():
                if not rows:
                    continue
                if doctype.table not in present:
                    raise LookupError(f"table {doctype.table!r} does not exist; create it first")
                table = sa.Table(doctype.table, metadata, autoload_with=conn)
                conn.execute(sa.insert(table), list(_fit(table, rows)))
        self._rows.clear()


def _fit(table: sa.Table, rows: Sequence[dict[str, object]]) -> Iterator[dict[str, object]]:
    """Rows keeping the columns the table has; every row gets the same keys."""
    columns = set(table.c.keys())
    keys = sorted({key for row in rows for key in row} & columns)
    for row in rows:
        yield {key: row.get(key) for key in keys}


@dataclass(frozen=True, slots=True)
class CatalogueShape:
    """What `build_catalogue` wrote: the plan names and the size of each plan's tree."""

    plans: tuple[str, ...]
    nodes_per_plan: Mapping[NodeKind, int]
    stages_per_plan: int
    """The stages of the first plan (every plan's, when the stage count is fixed)."""
    subject_plans: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Every subject and the plans that show it, in plan order."""
    unpublished_lessons: frozenset[str] = frozenset()
    rows: int = 0
    """Rows written, in all tables."""

    @property
    def total_nodes_per_plan(self) -> int:
        return sum(self.nodes_per_plan.values())


def build_catalogue(
    engine: sa.Engine,
    plans: int = 2,
    subjects: int = 3,
    tracks: int = 2,
    units: int = 2,
    topics: int = 2,
    lessons: int = 3,
    stages: int | tuple[int, int] = 2,
    scale: int = 1,
    *,
    prefix: str = "",
    shared_by: int = 1,
    seed: int | None = None,
    draft_plans: int = 0,
    unpublished: float = 0.0,
) -> CatalogueShape:
    """A regular catalogue: each plan shows `subjects × scale` subjects, each node has the given
    number of children (`stages` may be a (fewest, most) range), so `scale` multiplies the nodes
    of every level. Names are `{prefix}P{p}`, `{prefix}P{p}-S{s}`, `…-T{t}`, `…-U{u}`,
    `…-TP{tp}`, `…-L{l}`; with `shared_by` > 1 each subject (`{prefix}S{s}`) is shown by that
    many plans (plan p's i-th subject is number (p × per plan + i) mod subjects + 1).

    `seed`: realistic, deterministic content (`catalogue_text`): a third of the subjects in
    Arabic, stage configs of every type; stage counts in the range, and the `unpublished`
    share of lessons (never a subject's first five), drawn from it. `draft_plans`
    unpublished plans (`{prefix}DRAFT{d}`) show the first subjects. The content tables must
    exist (`create_content_schema`).
    """
    per_plan = subjects * scale
    total = plans * per_plan // shared_by
    if (
        shared_by < 1
        or total * shared_by != plans * per_plan
        or (shared_by > 1 and total < per_plan)
    ):
        raise ValueError(f"{plans} plans × {per_plan} subjects cannot share each by {shared_by}")
    rng = random.Random(seed)
    text = CatalogueText(rng) if seed is not None else None
    fewest, most = stages if isinstance(stages, tuple) else (stages, stages)
    builder = CatalogueBuilder(engine)
    plan_names = [f"{prefix}P{p}" for p in range(1, plans + 1)]
    if shared_by == 1:
        owned = {f"{plan}-S{s}": (plan,) for plan in plan_names for s in range(1, per_plan + 1)}
    else:
        shown: dict[str, list[str]] = defaultdict(list)
        for p, plan in enumerate(plan_names):
            for i in range(per_plan):
                shown[f"{prefix}S{(p * per_plan + i) % total + 1}"].append(plan)
        owned = {subject: tuple(plan_list) for subject, plan_list in shown.items()}
    plan_subjects: dict[str, list[str]] = defaultdict(list)
    for subject, shown_by in owned.items():
        for plan in shown_by:
            plan_subjects[plan].append(subject)
    for p, plan in enumerate(plan_names, start=1):
        title = text.plan_title(p) if text else f"Plan {p}"
        builder.plan(plan, title=title)
        for order, subject in enumerate(plan_subjects[plan], start=1):
            builder.plan_subject(plan, subject, sort_order=order)
    for d in range(1, draft_plans + 1):
        draft = builder.plan(f"{prefix}DRAFT{d}", title=f"Draft {d}", is_published=False)
        for order, subject in enumerate(list(owned)[:per_plan], start=1):
            builder.plan_subject(draft, subject, sort_order=order)
    stage_counts: dict[str, int] = {}
    hidden: set[str] = set()
    for number, subject in enumerate(owned, start=1):
        if text:
            text.start_subject(number)
        s = int(subject.rpartition("S")[2])
        builder.subject(subject, title=text.subject(s) if text else f"Subject {s}", sort_order=s)
        count = 0
        for t in range(1, tracks + 1):
            track = builder.track(
                f"{subject}-T{t}",
                subject,
                title=text.track(t) if text else f"Track {t}",
                sort_order=t,
            )
            for u in range(1, units + 1):
                unit = builder.unit(
                    f"{track}-U{u}",
                    track,
                    title=text.unit(u) if text else f"Unit {u}",
                    sort_order=u,
                )
                for tp in range(1, topics + 1):
                    topic = builder.topic(
                        f"{unit}-TP{tp}",
                        unit,
                        title=text.topic(tp) if text else f"Topic {tp}",
                        sort_order=tp,
                    )
                    for ls in range(1, lessons + 1):
                        name = f"{topic}-L{ls}"
                        published = count < 5 or not unpublished or rng.random() >= unpublished
                        if not published:
                            hidden.add(name)
                        count += 1
                        builder.lesson(
                            name,
                            topic,
                            title=text.lesson(count) if text else f"Lesson {ls}",
                            description=text.description() if text else None,
                            sort_order=ls,
                            is_published=published,
                        )
                        n = rng.randint(fewest, most) if most > fewest else fewest
                        stage_counts[subject] = stage_counts.get(subject, 0) + n
                        for st in range(1, n + 1):
                            kind, config = (
                                text.stage(name, st)
                                if text
                                else (StageType.TEXT, {"text": f"Stage {st} of {name}"})
                            )
                            builder.stage(
                                name,
                                title=text.stage_title(st) if text else f"Stage {st}",
                                type=kind.value,
                                config=json.dumps(config, ensure_ascii=False) if text else config,
                            )
    rows = sum(builder.counts().values())
    builder.insert()
    counts = {
        NodeKind.SUBJECT: per_plan,
        NodeKind.TRACK: per_plan * tracks,
        NodeKind.UNIT: per_plan * tracks * units,
        NodeKind.TOPIC: per_plan * tracks * units * topics,
        NodeKind.LESSON: per_plan * tracks * units * topics * lessons,
    }
    first = plan_subjects[plan_names[0]] if plan_names else []
    return CatalogueShape(
        plans=tuple(plan_names),
        nodes_per_plan=counts,
        stages_per_plan=sum(stage_counts[subject] for subject in first),
        subject_plans=owned,
        unpublished_lessons=frozenset(hidden),
        rows=rows,
    )
