"""The demo catalogue: what `memora-cdn demo` seeds, and that seeding is idempotent."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from memora_cdn.core.model import AccessLevel, Doctype, OverrideAction, StageType
from memora_cdn.demo import (
    DEMO_PLANS,
    PUBLISHED_DEMO_PLANS,
    Catalogue,
    Row,
    demo_catalogue,
    seed,
)
from memora_cdn.source.schema import CHILD_TABLES, DELETED_DOCUMENT, content_metadata

ARABIC = re.compile("[\u0600-\u06ff]")

# Each node's parent link: (doctype, link column, parent doctype).
PARENT_LINKS = (
    (Doctype.TRACK, "parent_subject", Doctype.SUBJECT),
    (Doctype.UNIT, "parent_track", Doctype.TRACK),
    (Doctype.TOPIC, "parent_unit", Doctype.UNIT),
    (Doctype.LESSON, "parent_topic", Doctype.TOPIC),
    (Doctype.LESSON_STAGE, "parent", Doctype.LESSON),
    (Doctype.PLAN_SUBJECT, "parent", Doctype.PLAN),
    (Doctype.PLAN_SUBJECT, "subject", Doctype.SUBJECT),
    (Doctype.PLAN_OVERRIDE, "parent", Doctype.PLAN),
    (Doctype.PLAN, "season", Doctype.SEASON),
    (Doctype.PLAN, "grade", Doctype.GRADE),
    (Doctype.PLAN, "stream", Doctype.STREAM),
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return demo_catalogue()


def rows(catalogue: Catalogue, doctype: Doctype) -> tuple[Row, ...]:
    return catalogue.rows(doctype.table)


def by_name(catalogue: Catalogue, doctype: Doctype) -> dict[str, Row]:
    return {str(row["name"]): row for row in rows(catalogue, doctype)}


def plan_subjects(catalogue: Catalogue, plan: str) -> set[str]:
    return {
        str(row["subject"])
        for row in rows(catalogue, Doctype.PLAN_SUBJECT)
        if row["parent"] == plan
    }


def plan_overrides(catalogue: Catalogue, plan: str) -> list[Row]:
    return [row for row in rows(catalogue, Doctype.PLAN_OVERRIDE) if row["parent"] == plan]


def visible(catalogue: Catalogue, plan: str, *, hide: bool = True) -> dict[Doctype, set[str]]:
    """Per level, the published nodes of a plan whose whole ancestor chain is published and
    (unless `hide` is false) not hidden by one of the plan's `Hide` overrides."""
    hidden = {
        (row["target_doctype"], row["target_name"])
        for row in plan_overrides(catalogue, plan)
        if hide and row["action"] == OverrideAction.HIDE.value
    }

    def shown(doctype: Doctype, row: Row) -> bool:
        return row["is_published"] == 1 and (doctype.value, row["name"]) not in hidden

    subjects = by_name(catalogue, Doctype.SUBJECT)
    result = {
        Doctype.SUBJECT: {
            name
            for name in plan_subjects(catalogue, plan)
            if shown(Doctype.SUBJECT, subjects[name])
        }
    }
    for doctype, link, parent in PARENT_LINKS[:4]:
        result[doctype] = {
            str(row["name"])
            for row in rows(catalogue, doctype)
            if row[link] in result[parent] and shown(doctype, row)
        }
    return result


def visible_lessons(catalogue: Catalogue, plan: str) -> int:
    return len(visible(catalogue, plan)[Doctype.LESSON])


def count_rows(engine: sa.Engine) -> dict[str, int]:
    metadata = content_metadata()
    with engine.connect() as connection:
        return {
            name: connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for name, table in metadata.tables.items()
        }


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'memora.db'}")
    yield engine
    engine.dispose()


# --- Seeding --------------------------------------------------------------------------------


def test_seeding_an_empty_sqlite_database_fills_every_content_table(
    engine: sa.Engine, catalogue: Catalogue
) -> None:
    result = seed(engine)

    counts = count_rows(engine)
    assert set(counts) == set(catalogue.tables)
    for table, rows_ in catalogue.tables.items():
        assert counts[table] == len(rows_) > 0, table
        assert result.inserted[table] == len(rows_), table
    assert result.total == catalogue.total


def test_seeded_rows_read_back_as_built(engine: sa.Engine, catalogue: Catalogue) -> None:
    seed(engine)

    table = content_metadata().tables[Doctype.LESSON_STAGE.table]
    expected = rows(catalogue, Doctype.LESSON_STAGE)[0]
    with engine.connect() as connection:
        stored = connection.execute(sa.select(table).where(table.c.name == expected["name"]))
        assert dict(stored.one()._mapping) == dict(expected)


def test_seeding_twice_inserts_nothing_the_second_time(engine: sa.Engine) -> None:
    seed(engine)
    before = count_rows(engine)

    second = seed(engine)

    assert second.total == 0
    assert all(count == 0 for count in second.inserted.values())
    assert count_rows(engine) == before


def test_seeding_leaves_rows_already_present_alone(engine: sa.Engine, catalogue: Catalogue) -> None:
    content_metadata().create_all(engine)
    subjects = content_metadata().tables[Doctype.SUBJECT.table]
    with engine.begin() as connection:
        connection.execute(subjects.insert(), {"name": "SUBJ-MATH", "title": "Edited by hand"})

    result = seed(engine)

    assert result.inserted[Doctype.SUBJECT.table] == len(rows(catalogue, Doctype.SUBJECT)) - 1
    with engine.connect() as connection:
        title = connection.scalar(sa.select(subjects.c.title).where(subjects.c.name == "SUBJ-MATH"))
    assert title == "Edited by hand"


# --- Shape of the rows ----------------------------------------------------------------------


def test_building_the_catalogue_is_deterministic(catalogue: Catalogue) -> None:
    assert demo_catalogue() == catalogue


def test_every_row_has_exactly_its_tables_columns_and_frappe_standard_values(
    catalogue: Catalogue,
) -> None:
    metadata = content_metadata()
    for table, rows_ in catalogue.tables.items():
        columns = set(metadata.tables[table].columns.keys())
        for row in rows_:
            assert set(row) == columns, (table, row["name"])
            assert row["owner"] == row["modified_by"] == "Administrator"
            assert row["docstatus"] == 0
            assert row["creation"] == row["modified"]


def test_names_are_unique_within_each_table(catalogue: Catalogue) -> None:
    for table, rows_ in catalogue.tables.items():
        names = Counter(row["name"] for row in rows_)
        assert [name for name, n in names.items() if n > 1] == [], table


@pytest.mark.parametrize("doctype", list(CHILD_TABLES))
def test_child_rows_name_their_parent_and_are_numbered_from_one(
    catalogue: Catalogue, doctype: Doctype
) -> None:
    parent_doctype, parentfield = CHILD_TABLES[doctype]
    idx_by_parent: dict[object, list[object]] = defaultdict(list)
    for row in rows(catalogue, doctype):
        assert row["parentfield"] == parentfield
        assert row["parenttype"] == parent_doctype.value
        idx_by_parent[row["parent"]].append(row["idx"])
    for parent, indexes in idx_by_parent.items():
        assert indexes == list(range(1, len(indexes) + 1)), parent


@pytest.mark.parametrize(("doctype", "link", "parent"), PARENT_LINKS)
def test_every_link_points_to_an_existing_row(
    catalogue: Catalogue, doctype: Doctype, link: str, parent: Doctype
) -> None:
    parents = by_name(catalogue, parent)
    orphans = [row["name"] for row in rows(catalogue, doctype) if row[link] not in parents]
    assert orphans == []


def test_every_override_targets_a_published_node_of_its_plan(catalogue: Catalogue) -> None:
    for plan in DEMO_PLANS:
        reachable = visible(catalogue, plan, hide=False)
        for row in plan_overrides(catalogue, plan):
            doctype = Doctype(str(row["target_doctype"]))
            assert row["target_name"] in reachable[doctype], row["name"]


def test_check_columns_are_ints_zero_or_one(catalogue: Catalogue) -> None:
    checks = ("is_published", "is_free_preview", "is_public", "is_linear", "is_skippable")
    for rows_ in catalogue.tables.values():
        for row in rows_:
            for column in checks:
                if column in row:
                    assert row[column] in (0, 1)
                    assert type(row[column]) is int


# --- Plans ----------------------------------------------------------------------------------


def test_demo_plans_lists_every_plan_and_which_are_published(catalogue: Catalogue) -> None:
    plans = by_name(catalogue, Doctype.PLAN)
    assert set(DEMO_PLANS) == set(plans)
    assert {name for name, row in plans.items() if row["is_published"]} == set(PUBLISHED_DEMO_PLANS)
    assert len(PUBLISHED_DEMO_PLANS) >= 3
    assert len(DEMO_PLANS) > len(PUBLISHED_DEMO_PLANS)


def test_at_least_three_published_plans_share_a_subject(catalogue: Catalogue) -> None:
    listed_in = Counter(
        subject for plan in PUBLISHED_DEMO_PLANS for subject in plan_subjects(catalogue, plan)
    )
    assert max(listed_in.values()) >= 3
    grade_10 = plan_subjects(catalogue, "PLAN-G10-SCI") & plan_subjects(catalogue, "PLAN-G10-LIT")
    assert {"SUBJ-MATH", "SUBJ-ARAB"} <= grade_10


def test_plans_carry_season_grade_and_stream_with_titles(catalogue: Catalogue) -> None:
    titles = {
        doctype: {name: row["title"] for name, row in by_name(catalogue, doctype).items()}
        for doctype in (Doctype.SEASON, Doctype.GRADE, Doctype.STREAM)
    }
    assert "2026-2027" in titles[Doctype.SEASON].values()
    assert {"Scientific", "Literary"} <= set(titles[Doctype.STREAM].values())
    for plan in rows(catalogue, Doctype.PLAN):
        assert plan["season"] in titles[Doctype.SEASON]
        assert plan["grade"] in titles[Doctype.GRADE]
        assert plan["stream"] in titles[Doctype.STREAM]


def test_one_plan_has_more_than_500_visible_lessons_and_the_others_are_moderate(
    catalogue: Catalogue,
) -> None:
    counts = {plan: visible_lessons(catalogue, plan) for plan in PUBLISHED_DEMO_PLANS}

    large = [plan for plan, n in counts.items() if n > 500]
    assert large == ["PLAN-G12-SCI"]
    assert counts["PLAN-G12-SCI"] <= 700
    assert all(10 <= n <= 150 for plan, n in counts.items() if plan not in large), counts


def test_visibility_honours_unpublished_nodes_and_hide_overrides(catalogue: Catalogue) -> None:
    literary = visible(catalogue, "PLAN-G10-LIT")
    scientific = visible(catalogue, "PLAN-G10-SCI")
    assert "SUBJ-PHIL" not in literary[Doctype.SUBJECT]
    assert "UNIT-ALG-04" not in literary[Doctype.UNIT]
    assert "UNIT-ALG-04" in scientific[Doctype.UNIT]
    assert "UNIT-PHY-05" not in scientific[Doctype.UNIT]
    assert "UNIT-ALG-04" in visible(catalogue, "PLAN-G10-LIT", hide=False)[Doctype.UNIT]
    unpublished = {
        str(row["name"]) for row in rows(catalogue, Doctype.LESSON) if row["is_published"] == 0
    }
    assert unpublished
    assert not unpublished & scientific[Doctype.LESSON]


# --- Overrides ------------------------------------------------------------------------------


def test_every_override_action_appears(catalogue: Catalogue) -> None:
    actions = {row["action"] for row in rows(catalogue, Doctype.PLAN_OVERRIDE)}
    assert actions == {action.value for action in OverrideAction}


def test_override_values_are_valid_for_their_action(catalogue: Catalogue) -> None:
    for row in rows(catalogue, Doctype.PLAN_OVERRIDE):
        action = OverrideAction(str(row["action"]))
        value = row["override_value"]
        if action is OverrideAction.SET_ACCESS_LEVEL:
            assert value in {level.value for level in AccessLevel}
        elif action is OverrideAction.SET_SOLD_SEPARATELY:
            assert row["target_doctype"] == Doctype.TRACK.value
        elif action is OverrideAction.SET_LINEAR:
            assert str(value).lower() in {"0", "1", "true", "false", "yes", "no"}
            assert row["target_doctype"] != Doctype.LESSON.value
        elif action is OverrideAction.RENAME:
            assert isinstance(value, str)
            assert value.strip()


def test_a_hidden_unit_is_shown_by_another_plan_sharing_its_subject(catalogue: Catalogue) -> None:
    units = by_name(catalogue, Doctype.UNIT)
    tracks = by_name(catalogue, Doctype.TRACK)
    found = []
    for plan in PUBLISHED_DEMO_PLANS:
        for row in plan_overrides(catalogue, plan):
            if row["action"] != OverrideAction.HIDE.value:
                continue
            assert row["target_doctype"] == Doctype.UNIT.value
            subject = tracks[str(units[str(row["target_name"])]["parent_track"])]["parent_subject"]
            found += [
                other
                for other in PUBLISHED_DEMO_PLANS
                if other != plan
                and subject in plan_subjects(catalogue, other)
                and row["target_name"] in visible(catalogue, other)[Doctype.UNIT]
            ]
    assert found


# --- Access ---------------------------------------------------------------------------------


def test_catalogue_has_paid_public_dlc_and_free_preview_content(catalogue: Catalogue) -> None:
    subjects = by_name(catalogue, Doctype.SUBJECT)
    tracks = by_name(catalogue, Doctype.TRACK)
    units = by_name(catalogue, Doctype.UNIT)
    paid = {name for name, row in subjects.items() if row["required_item"]}

    assert subjects["SUBJ-MATH"]["required_item"] == "COURSE-001"
    assert any(row["is_public"] and not row["required_item"] for row in subjects.values())

    under_paid = [row for row in tracks.values() if row["parent_subject"] in paid]
    dlc = [row for row in under_paid if row["is_sold_separately"] and row["required_item"]]
    assert any(row["required_item"] == "DLC-GEOMETRY" for row in dlc)
    assert any(not row["required_item"] for row in under_paid)
    assert any(row["parent_item_required"] and row["required_item"] for row in under_paid)

    under_paid_tracks = {row["name"] for row in under_paid}
    assert any(
        row["is_free_preview"] and row["parent_track"] in under_paid_tracks
        for row in units.values()
    )


@pytest.mark.parametrize("doctype", [Doctype.SUBJECT, Doctype.TRACK, Doctype.UNIT, Doctype.LESSON])
def test_unpublished_nodes_exist_at_every_level(catalogue: Catalogue, doctype: Doctype) -> None:
    assert any(row["is_published"] == 0 for row in rows(catalogue, doctype))


# --- Content --------------------------------------------------------------------------------


def test_lesson_stages_cover_all_four_types(catalogue: Catalogue) -> None:
    types = {row["type"] for row in rows(catalogue, Doctype.LESSON_STAGE)}
    assert types == {stage.value for stage in StageType}


def test_every_stage_config_is_a_json_object_fitting_its_type(catalogue: Catalogue) -> None:
    required = {
        StageType.VIDEO: {"video_url", "duration"},
        StageType.QUESTION: {"question", "choices", "answer"},
        StageType.TEXT: {"body"},
        StageType.INTERACTIVE: {"widget", "params"},
    }
    for row in rows(catalogue, Doctype.LESSON_STAGE):
        config = json.loads(str(row["config"]))
        assert isinstance(config, dict)
        assert required[StageType(str(row["type"]))] <= set(config), row["name"]
        if row["type"] == StageType.VIDEO.value:
            assert config["video_url"].startswith("https://media.memora.example/videos/")
        if row["type"] == StageType.QUESTION.value:
            assert 0 <= config["answer"] < len(config["choices"])


def test_stages_have_weights_target_times_and_some_are_skippable(catalogue: Catalogue) -> None:
    stages = rows(catalogue, Doctype.LESSON_STAGE)
    assert all(float(str(row["weight"])) > 0 for row in stages)
    assert all(isinstance(row["target_time"], int) and row["target_time"] > 0 for row in stages)
    assert {row["is_skippable"] for row in stages} == {0, 1}
    assert len({row["weight"] for row in stages}) > 1


def test_arabic_titles_and_descriptions_are_present(catalogue: Catalogue) -> None:
    for doctype in (Doctype.SUBJECT, Doctype.TRACK, Doctype.UNIT, Doctype.LESSON):
        assert any(ARABIC.search(str(row["title"])) for row in rows(catalogue, doctype)), doctype
    assert any(
        ARABIC.search(str(row["description"] or "")) for row in rows(catalogue, Doctype.SUBJECT)
    )
    assert by_name(catalogue, Doctype.SUBJECT)["SUBJ-ARAB"]["title"] == "اللغة العربية"
    assert any(ARABIC.search(str(row["config"])) for row in rows(catalogue, Doctype.LESSON_STAGE))


def test_sort_order_differs_from_creation_order(catalogue: Catalogue) -> None:
    lessons_by_topic: dict[object, list[Row]] = defaultdict(list)
    for row in rows(catalogue, Doctype.LESSON):
        lessons_by_topic[row["parent_topic"]].append(row)
    reordered = [
        topic
        for topic, lessons in lessons_by_topic.items()
        if sorted(lessons, key=lambda r: (r["sort_order"], r["title"], r["name"])) != lessons
    ]
    assert reordered

    plan_rows = list(rows(catalogue, Doctype.PLAN_SUBJECT))
    assert sorted(plan_rows, key=lambda r: (r["parent"], r["sort_order"], r["idx"])) != sorted(
        plan_rows, key=lambda r: (r["parent"], r["idx"])
    )
    assert any(row["sort_order"] == 0 for row in rows(catalogue, Doctype.TOPIC))


def test_the_deleted_document_is_a_lesson_no_longer_in_the_catalogue(catalogue: Catalogue) -> None:
    (deleted,) = catalogue.rows(DELETED_DOCUMENT)
    data = json.loads(str(deleted["data"]))
    assert deleted["deleted_doctype"] == data["doctype"] == Doctype.LESSON.value
    assert deleted["deleted_name"] == data["name"]
    assert data["name"] not in by_name(catalogue, Doctype.LESSON)
    assert data["parent_topic"] in by_name(catalogue, Doctype.TOPIC)
