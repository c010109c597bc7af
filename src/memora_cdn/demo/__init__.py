"""The demo catalogue `memora-cdn demo` seeds: its data is `catalogue.toml`; `demo_catalogue()`
makes SPEC §1 rows of it (deterministic, no clock), `seed()` writes them, and
`refuse_foreign_content()` keeps the demo off a database that holds anything else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sqlalchemy as sa
from more_itertools import chunked

from memora_cdn.demo.rows import Catalogue, Row, catalogue_data, demo_catalogue
from memora_cdn.errors import ForeignContentError
from memora_cdn.source.schema import content_metadata

__all__ = [
    "DEMO_PLANS",
    "PUBLISHED_DEMO_PLANS",
    "Catalogue",
    "Row",
    "SeedResult",
    "demo_catalogue",
    "refuse_foreign_content",
    "seed",
]

DEMO_PLANS: tuple[str, ...] = tuple(plan["name"] for plan in catalogue_data()["plans"])
"""Every demo plan, published or not."""

PUBLISHED_DEMO_PLANS: tuple[str, ...] = tuple(
    plan["name"] for plan in catalogue_data()["plans"] if plan["is_published"]
)
"""The demo plans that are published (and so exported)."""

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What `seed` inserted: rows per table name (0 for a table already seeded)."""

    inserted: Mapping[str, int]

    @property
    def total(self) -> int:
        """The number of rows inserted in all tables."""
        return sum(self.inserted.values())


# --- Writing --------------------------------------------------------------------------------


def refuse_foreign_content(engine: sa.Engine) -> None:
    """Raise `ForeignContentError` unless every Frappe-layout (`tab…`) table in the database
    is one the demo seeds and holds only rows named as the demo names them.

    The demo recognises its own content by name, table by table: a fresh database, or one
    the demo seeded before, passes; a site database (any other `tab…` table, or a plan,
    lesson or other row the demo does not create) is refused before anything is written.
    """
    catalogue = demo_catalogue()
    metadata = content_metadata()
    present = set(sa.inspect(engine).get_table_names())
    foreign_tables = sorted(t for t in present if t.startswith("tab") and t not in metadata.tables)
    if foreign_tables:
        raise ForeignContentError(foreign_tables[0], [])
    with engine.connect() as connection:
        for table_name, rows in catalogue.tables.items():
            if table_name not in present:
                continue
            ours = {row["name"] for row in rows}
            names: list[object] = list(
                connection.scalars(sa.select(metadata.tables[table_name].c.name))
            )
            foreign = sorted(str(name) for name in names if name not in ours)
            if foreign:
                raise ForeignContentError(table_name, foreign)


def seed(engine: sa.Engine) -> SeedResult:
    """Create the content tables if missing and insert the demo rows not already there.

    Rows are matched by `name`: existing ones are left alone, so a second run inserts
    nothing. Inserts are batched (executemany) in one transaction.
    """
    metadata = content_metadata()
    metadata.create_all(engine)
    catalogue = demo_catalogue()
    inserted: dict[str, int] = {}
    with engine.begin() as connection:
        for table_name, rows in catalogue.tables.items():
            table = metadata.tables[table_name]
            existing: set[str] = set(connection.scalars(sa.select(table.c.name)))
            missing = [row for row in rows if row["name"] not in existing]
            for chunk in chunked(missing, _CHUNK):
                connection.execute(table.insert(), chunk)
            inserted[table_name] = len(missing)
    return SeedResult(MappingProxyType(inserted))
