"""The seeded catalogue generator (`build_catalogue(seed=…)`) that the benchmark suite runs on:
deterministic, shared subjects, Arabic and English, varied stages."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from catalogue import build_catalogue, create_content_schema
from memora_cdn.source.schema import content_metadata

TABLES = content_metadata().tables


def _generate(path: Path, seed: int) -> tuple[sa.Engine, dict[str, list[tuple[object, ...]]]]:
    engine = sa.create_engine(f"sqlite:///{path}")
    create_content_schema(engine)
    build_catalogue(
        engine,
        plans=4,
        subjects=2,
        units=1,
        topics=2,
        lessons=5,
        stages=(3, 5),
        shared_by=2,
        seed=seed,
        draft_plans=1,
        unpublished=0.2,
    )
    with engine.connect() as conn:
        rows = {
            name: sorted(tuple(row) for row in conn.execute(sa.select(table)))
            for name, table in TABLES.items()
        }
    return engine, rows


def test_the_same_seed_writes_the_same_rows_and_another_seed_other_content(
    tmp_path: Path,
) -> None:
    first, rows = _generate(tmp_path / "a.db", seed=7)
    again, same = _generate(tmp_path / "b.db", seed=7)
    other, different = _generate(tmp_path / "c.db", seed=8)
    for engine in (first, again, other):
        engine.dispose()
    assert rows == same
    assert rows["tabMemora Lesson Stage"] != different["tabMemora Lesson Stage"]
    assert len(rows["tabMemora Lesson"]) == 4 * 2 * 2 * 1 * 2 * 5 // 2


def test_each_subject_is_shown_by_exactly_shared_by_plans_and_the_draft_is_unpublished(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'site.db'}")
    create_content_schema(engine)
    shape = build_catalogue(engine, plans=6, subjects=4, shared_by=3, seed=1, draft_plans=1)
    plans = TABLES["tabMemora Academic Plan"]
    links = TABLES["tabMemora Plan Subject"]
    with engine.connect() as conn:
        published = dict(conn.execute(sa.select(plans.c.name, plans.c.is_published)).all())
        shown = conn.execute(
            sa.select(links.c.subject, links.c.parent).where(links.c.parent.in_(shape.plans))
        ).all()
    engine.dispose()
    assert published == {**dict.fromkeys(shape.plans, 1), "DRAFT1": 0}
    per_subject = Counter(subject for subject, _ in shown)
    assert len(per_subject) == 6 * 4 // 3
    assert set(per_subject.values()) == {3}
    assert Counter(plan for _, plan in shown) == dict.fromkeys(shape.plans, 4)
    assert {s: len(p) for s, p in shape.subject_plans.items()} == per_subject


def test_titles_are_arabic_and_english_and_lessons_have_three_to_five_stages(
    tmp_path: Path,
) -> None:
    engine, rows = _generate(tmp_path / "site.db", seed=3)
    engine.dispose()
    titles = [
        str(row[TABLES["tabMemora Lesson"].c.keys().index("title")])
        for row in rows["tabMemora Lesson"]
    ]
    assert any(title.startswith("الدرس") for title in titles)
    assert any(title.startswith("Lesson") for title in titles)
    parent = TABLES["tabMemora Lesson Stage"].c.keys().index("parent")
    per_lesson = Counter(row[parent] for row in rows["tabMemora Lesson Stage"])
    assert set(per_lesson.values()) <= {3, 4, 5}
    assert len(set(per_lesson.values())) > 1
    assert len(per_lesson) == len(titles)
    published = TABLES["tabMemora Lesson"].c.keys().index("is_published")
    hidden = [row for row in rows["tabMemora Lesson"] if row[published] == 0]
    assert 0 < len(hidden) < len(titles)
