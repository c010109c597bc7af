"""The Frappe-layout content tables (SPEC §1), as `init --content-schema` creates them.
Design notes: docs/decisions/source-adapter.md"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from memora_cdn.core.model import Doctype

NAME_LENGTH = 140

_LONGTEXT: TypeEngine[Any] = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_DATETIME: TypeEngine[Any] = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


@dataclass(frozen=True, slots=True)
class Field:
    """One column of a content table: its kind, whether a build needs it, its default."""

    name: str
    kind: str
    """One of: link, data, text, int, check, float."""
    required: bool = False
    default: object = None
    index: bool = False


def _data(name: str, *, required: bool = False) -> Field:
    return Field(name, "data", required)


def _text(name: str) -> Field:
    return Field(name, "text")


def _link(name: str, *, required: bool = True) -> Field:
    return Field(name, "link", required, index=True)


def _check(name: str, default: int = 0) -> Field:
    return Field(name, "check", default=default)


def _int(name: str, default: int | None = 0) -> Field:
    return Field(name, "int", default=default)


_PUBLISHED = _check("is_published", 1)

FIELDS: dict[Doctype, tuple[Field, ...]] = {
    Doctype.PLAN: (
        _data("title", required=True),
        _link("season", required=False),
        _link("grade", required=False),
        _link("stream", required=False),
        _PUBLISHED,
    ),
    Doctype.PLAN_SUBJECT: (_link("subject"), _int("sort_order")),
    Doctype.PLAN_OVERRIDE: (
        _data("target_doctype", required=True),
        _data("target_name", required=True),
        _data("action", required=True),
        _text("override_value"),
    ),
    Doctype.SUBJECT: (
        _data("title", required=True),
        _text("description"),
        _text("image"),
        _data("color_code"),
        _int("sort_order"),
        _PUBLISHED,
        _check("is_free_preview"),
        _check("is_public"),
        _data("required_item"),
        _check("is_linear", 1),
    ),
    Doctype.TRACK: (
        _data("title", required=True),
        _text("description"),
        _text("image"),
        _int("sort_order"),
        _link("parent_subject"),
        _PUBLISHED,
        _check("is_free_preview"),
        _check("is_sold_separately"),
        _data("required_item"),
        _check("parent_item_required"),
        _check("is_linear"),
    ),
    Doctype.UNIT: (
        _data("title", required=True),
        _text("description"),
        _text("image"),
        _text("badge_image"),
        _int("sort_order"),
        _link("parent_track"),
        _PUBLISHED,
        _check("is_free_preview"),
        _check("is_linear"),
    ),
    Doctype.TOPIC: (
        _data("title", required=True),
        _text("description"),
        _text("image"),
        _int("sort_order"),
        _link("parent_unit"),
        _PUBLISHED,
        _check("is_free_preview"),
        _check("is_linear"),
    ),
    Doctype.LESSON: (
        _data("title", required=True),
        _text("description"),
        _text("image"),
        _int("sort_order"),
        _link("parent_topic"),
        _PUBLISHED,
        _check("is_free_preview"),
    ),
    Doctype.LESSON_STAGE: (
        _data("title"),
        _data("type", required=True),
        Field("weight", "float", default=1.0),
        _int("target_time", None),
        _check("is_skippable"),
        Field("config", "longtext"),
    ),
    Doctype.SEASON: (_data("title"),),
    Doctype.GRADE: (_data("title"),),
    Doctype.STREAM: (_data("title"),),
}

CHILD_TABLES: dict[Doctype, tuple[Doctype, str]] = {
    Doctype.PLAN_SUBJECT: (Doctype.PLAN, "subjects"),
    Doctype.PLAN_OVERRIDE: (Doctype.PLAN, "overrides"),
    Doctype.LESSON_STAGE: (Doctype.LESSON, "stages"),
}

DELETED_DOCUMENT = "tabDeleted Document"


def _column(field: Field) -> Column[Any]:
    types: dict[str, TypeEngine[Any]] = {
        "link": String(NAME_LENGTH),
        "data": String(NAME_LENGTH),
        "text": Text(),
        "longtext": _LONGTEXT,
        "int": Integer(),
        "check": Integer(),
        # Frappe stores Float fields as decimal(21,9); read back as Python floats.
        "float": Numeric(21, 9, asdecimal=False),
    }
    server_default = None if field.default is None else str(field.default)
    return Column(field.name, types[field.kind], server_default=server_default, nullable=True)


def _standard_columns(child: bool) -> list[Column[Any]]:
    columns: list[Column[Any]] = [
        Column("name", String(NAME_LENGTH), primary_key=True),
        Column("creation", _DATETIME, nullable=True),
        Column("modified", _DATETIME, nullable=True),
        Column("modified_by", String(NAME_LENGTH), nullable=True),
        Column("owner", String(NAME_LENGTH), nullable=True),
        Column("docstatus", Integer(), nullable=False, server_default="0"),
        Column("idx", Integer(), nullable=False, server_default="0"),
    ]
    if child:
        columns += [
            Column("parent", String(NAME_LENGTH), nullable=True),
            Column("parentfield", String(NAME_LENGTH), nullable=True),
            Column("parenttype", String(NAME_LENGTH), nullable=True),
        ]
    return columns


def content_metadata() -> MetaData:
    """Tables as Frappe lays them out, with the indexes a site has on links and `modified`."""
    metadata = MetaData()
    for doctype, fields in FIELDS.items():
        child = doctype in CHILD_TABLES
        table = Table(
            doctype.table, metadata, *_standard_columns(child), *(_column(f) for f in fields)
        )
        Index(f"ix_{doctype.name.lower()}_modified", table.c.modified)
        if child:
            Index(f"ix_{doctype.name.lower()}_parent", table.c.parent)
        for field in fields:
            if field.index:
                Index(f"ix_{doctype.name.lower()}_{field.name}", table.c[field.name])
    deleted = Table(
        DELETED_DOCUMENT,
        metadata,
        *_standard_columns(False),
        Column("deleted_doctype", String(NAME_LENGTH), nullable=True),
        Column("deleted_name", String(NAME_LENGTH), nullable=True),
        Column("data", _LONGTEXT, nullable=True),
        Column("restored", Integer(), nullable=False, server_default="0"),
    )
    Index("ix_deleted_document_modified", deleted.c.modified)
    return metadata
