"""The demo catalogue's rows, built from `catalogue.toml` (pure and deterministic)."""

from __future__ import annotations

import json
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from memora_cdn.core.model import Doctype, OverrideAction, StageType
from memora_cdn.source.schema import CHILD_TABLES, DELETED_DOCUMENT, FIELDS

DEMO_TIMESTAMP = datetime(2026, 1, 1, 0, 0, 0)
"""The `creation` and `modified` of every demo row."""

DEMO_USER = "Administrator"

Row = Mapping[str, object]
"""One table row: column name → value, as inserted."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The demo rows, per table name, in an order that puts parents first."""

    tables: Mapping[str, tuple[Row, ...]]

    def rows(self, table: str) -> tuple[Row, ...]:
        """The rows of one table (empty if the demo has none)."""
        return self.tables.get(table, ())

    @property
    def total(self) -> int:
        """The number of rows in all tables."""
        return sum(len(rows) for rows in self.tables.values())


@cache
def catalogue_data() -> dict[str, Any]:
    """The parsed `catalogue.toml`."""
    text = resources.files(__package__).joinpath("catalogue.toml").read_text("utf-8")
    return tomllib.loads(text)


def _row(
    doctype: Doctype, name: str, idx: int = 0, parent: str | None = None, /, **values: object
) -> dict[str, object]:
    """A full row of a content table: standard columns, then every field (default if not given)."""
    row: dict[str, object] = {
        "name": name,
        "creation": DEMO_TIMESTAMP,
        "modified": DEMO_TIMESTAMP,
        "modified_by": DEMO_USER,
        "owner": DEMO_USER,
        "docstatus": 0,
        "idx": idx,
    }
    if doctype in CHILD_TABLES:
        parent_doctype, parentfield = CHILD_TABLES[doctype]
        row.update(parent=parent, parentfield=parentfield, parenttype=parent_doctype.value)
    for field in FIELDS[doctype]:
        value = values.pop(field.name, field.default)
        row[field.name] = int(bool(value)) if field.kind == "check" else value
    if values:
        raise ValueError(f"{doctype.table} has no columns {sorted(values)}")
    return row


def _json(value: Mapping[str, object]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Builder:
    """Accumulates rows per doctype, numbering lessons and stages as Frappe's naming series do."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.rows: dict[Doctype, list[dict[str, object]]] = {doctype: [] for doctype in FIELDS}
        self.lessons = 0
        self.stages = 0
        self.intro_lesson: dict[str, str] = {}
        """Topic name → the name of its introduction lesson."""

    def text(self, arabic: bool, key: str) -> str:
        """One of the editor-written texts, in the subject's language."""
        text: str = self.data["texts"]["arabic" if arabic else "english"][key]
        return text

    def question(self, topic: str, arabic: bool) -> dict[str, object]:
        """A Question stage's config, the correct choice at (stage number % 4)."""
        texts = self.data["texts"]["arabic" if arabic else "english"]
        wrong = list(texts["wrong_choices"])
        answer = self.stages % 4
        correct = texts["correct_choice"].format(t=topic)
        choices = [*wrong[:answer], correct, *wrong[answer:]]
        return {"question": texts["question"].format(t=topic), "choices": choices, "answer": answer}

    def image(self, folder: str, name: str) -> str:
        return f"{self.data['media_base_url']}/images/{folder}/{name}"

    def subject(self, spec: Mapping[str, Any]) -> None:
        name = spec["name"]
        self.rows[Doctype.SUBJECT].append(
            _row(
                Doctype.SUBJECT,
                name,
                title=spec["title"],
                description=spec["description"],
                image=self.image("subjects", f"{name.lower()}.png"),
                color_code=spec["color_code"],
                sort_order=spec.get("sort_order", 0),
                is_published=spec.get("is_published", True),
                is_public=spec.get("is_public", False),
                required_item=spec.get("required_item"),
                is_linear=spec.get("is_linear", True),
            )
        )
        track: str | None = None
        code = ""
        tracks = units = 0
        for line in textwrap.dedent(spec["outline"]).strip().splitlines():
            parts = [part.strip() for part in line.split("|")]
            if not line.startswith(" "):
                track, code, title = parts
                tracks += 1
                units = 0
                columns: dict[str, object] = {
                    "title": title,
                    "parent_subject": name,
                    "sort_order": tracks * 10,
                    "is_linear": 1,
                }
                columns |= self.data["tracks"].get(track, {})
                self.rows[Doctype.TRACK].append(_row(Doctype.TRACK, track, **columns))
            else:
                assert track is not None, f"{name}: a unit before any track"
                units += 1
                self.unit(spec, track, f"UNIT-{code}-{units:02d}", units, parts)

    def unit(
        self, subject: Mapping[str, Any], track: str, name: str, number: int, parts: list[str]
    ) -> None:
        title, *topics = parts
        layout = self.data["layout"]
        arabic = subject.get("arabic", False) or name in layout["arabic_units"]
        columns: dict[str, object] = {
            "title": title,
            "description": self.text(arabic, "unit_description").format(title=title),
            "badge_image": self.image("badges", f"{name.lower()}.png"),
            "sort_order": number * 10,
            "parent_track": track,
            "is_linear": 1,
        }
        columns |= self.data["units"].get(name, {})
        self.rows[Doctype.UNIT].append(_row(Doctype.UNIT, name, **columns))
        unordered = track in layout["unordered_topic_tracks"]
        for position, topic in enumerate(topics, start=1):
            topic_name = f"{name.replace('UNIT-', 'TOP-', 1)}-{position}"
            self.rows[Doctype.TOPIC].append(
                _row(
                    Doctype.TOPIC,
                    topic_name,
                    title=topic,
                    sort_order=0 if unordered else position * 10,
                    parent_unit=name,
                    is_linear=1,
                )
            )
            first_in_track = number == 1 and position == 1
            self.lessons_for(subject, topic_name, topic, arabic, first_in_track)

    def lessons_for(
        self, subject: Mapping[str, Any], topic_name: str, topic: str, arabic: bool, free: bool
    ) -> None:
        templates = self.data["lessons"]["arabic" if arabic else "english"]
        drafts = self.data["unpublished_lessons"]
        for template in templates[: subject.get("lessons_per_topic", 3)]:
            self.lessons += 1
            name = f"LES-{self.lessons:05d}"
            title = template["title"].format(t=topic)
            intro = template["sort_order"] == 10
            if intro:
                self.intro_lesson[topic_name] = name
            description = self.text(arabic, "lesson_description").format(title=title, t=topic)
            self.rows[Doctype.LESSON].append(
                _row(
                    Doctype.LESSON,
                    name,
                    title=title,
                    description=description,
                    image=self.image("lessons", f"{name.lower()}.png") if intro else None,
                    sort_order=template["sort_order"],
                    parent_topic=topic_name,
                    is_published=self.lessons % drafts["every"] != drafts["remainder"],
                    is_free_preview=free and intro,
                )
            )
            for idx, stage_type in enumerate(template["stages"], start=1):
                self.stage(subject, name, idx, StageType(stage_type), topic, arabic)

    def stage(
        self,
        subject: Mapping[str, Any],
        lesson: str,
        idx: int,
        kind: StageType,
        topic: str,
        arabic: bool,
    ) -> None:
        self.stages += 1
        name = f"STG-{self.stages:06d}"
        target_time: int
        skippable = False
        config: dict[str, object]
        if kind is StageType.VIDEO:
            duration = 180 + (self.stages * 47) % 540
            video_url = f"{self.data['media_base_url']}/videos/{name}.mp4"
            config = {"video_url": video_url, "duration": duration}
            target_time, skippable = duration, self.stages % 5 == 0
        elif kind is StageType.QUESTION:
            config = self.question(topic, arabic)
            target_time = 90
        elif kind is StageType.TEXT:
            config = {"body": self.text(arabic, "reading").format(t=topic)}
            target_time, skippable = 240, True
        else:
            widget = self.data["widgets"][subject["widget"]]
            config = {"widget": widget["widget"], "params": dict(widget["params"])}
            target_time = 300
        stage = self.data["stages"][kind.value]
        self.rows[Doctype.LESSON_STAGE].append(
            _row(
                Doctype.LESSON_STAGE,
                name,
                idx,
                lesson,
                title=stage["title_arabic" if arabic else "title"],
                type=kind.value,
                weight=stage["weight"],
                target_time=target_time,
                is_skippable=skippable,
                config=_json(config),
            )
        )


def _plans(builder: _Builder, data: Mapping[str, Any]) -> None:
    """The plans with their subjects and overrides."""
    rows = builder.rows
    season = data["seasons"][0]["name"]
    plan_subjects = 0
    for plan in data["plans"]:
        name = plan["name"]
        rows[Doctype.PLAN].append(
            _row(
                Doctype.PLAN,
                name,
                title=plan["title"],
                season=season,
                grade=plan["grade"],
                stream=plan["stream"],
                is_published=plan["is_published"],
            )
        )
        for idx, entry in enumerate(plan["subjects"], start=1):
            plan_subjects += 1
            rows[Doctype.PLAN_SUBJECT].append(
                _row(
                    Doctype.PLAN_SUBJECT,
                    f"PS-{plan_subjects:04d}",
                    idx,
                    name,
                    subject=entry["subject"],
                    sort_order=entry["sort_order"],
                )
            )

    per_plan: dict[str, int] = {}
    for number, override in enumerate(data["overrides"], start=1):
        plan = override["plan"]
        per_plan[plan] = per_plan.get(plan, 0) + 1
        target = override.get("target") or builder.intro_lesson[override["lesson_of_topic"]]
        rows[Doctype.PLAN_OVERRIDE].append(
            _row(
                Doctype.PLAN_OVERRIDE,
                f"PO-{number:04d}",
                per_plan[plan],
                plan,
                target_doctype=Doctype(override["doctype"]).value,
                target_name=target,
                action=OverrideAction(override["action"]).value,
                override_value=override.get("value"),
            )
        )


_TABLE_ORDER = (
    Doctype.SEASON,
    Doctype.GRADE,
    Doctype.STREAM,
    Doctype.SUBJECT,
    Doctype.TRACK,
    Doctype.UNIT,
    Doctype.TOPIC,
    Doctype.LESSON,
    Doctype.LESSON_STAGE,
    Doctype.PLAN,
    Doctype.PLAN_SUBJECT,
    Doctype.PLAN_OVERRIDE,
)
"""Parents before children."""


def demo_catalogue() -> Catalogue:
    """Build the demo catalogue's rows: pure and deterministic (same rows on every call)."""
    data = catalogue_data()
    builder = _Builder(data)
    rows = builder.rows
    references = (
        (Doctype.SEASON, "seasons"),
        (Doctype.GRADE, "grades"),
        (Doctype.STREAM, "streams"),
    )
    for doctype, key in references:
        rows[doctype] = [_row(doctype, row["name"], title=row["title"]) for row in data[key]]
    for spec in data["subjects"]:
        builder.subject(spec)
    _plans(builder, data)
    tables: dict[str, tuple[Row, ...]] = {d.table: tuple(rows[d]) for d in _TABLE_ORDER}
    tables[DELETED_DOCUMENT] = (_deleted_lesson(builder.lessons + 1, data["deleted_lesson"]),)
    return Catalogue(MappingProxyType(tables))


def _deleted_lesson(number: int, lesson: Mapping[str, Any]) -> Row:
    """The copy Frappe kept in `tabDeleted Document` of a lesson an editor deleted."""
    name = f"LES-{number:05d}"
    stamp = DEMO_TIMESTAMP.isoformat(sep=" ")
    data = {
        "doctype": Doctype.LESSON.value,
        "name": name,
        "title": lesson["title"],
        "parent_topic": lesson["parent_topic"],
        "sort_order": lesson["sort_order"],
        "is_published": 1,
        "is_free_preview": 0,
        "creation": stamp,
        "modified": stamp,
        "owner": DEMO_USER,
        "modified_by": DEMO_USER,
        "docstatus": 0,
        "idx": 0,
    }
    return {
        "name": "DEL-00001",
        "creation": DEMO_TIMESTAMP,
        "modified": DEMO_TIMESTAMP,
        "modified_by": DEMO_USER,
        "owner": DEMO_USER,
        "docstatus": 0,
        "idx": 0,
        "deleted_doctype": Doctype.LESSON.value,
        "deleted_name": name,
        "data": _json(data),
        "restored": 0,
    }
