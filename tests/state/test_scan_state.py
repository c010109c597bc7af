"""Scan watermarks as stored (state/scan_state.py): what a row that memora-cdn did not write
itself, or wrote in an older layout, reads back as (round trips are in tests/sync/test_scan.py).
"""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from memora_cdn.state.repo import StateRepository
from memora_cdn.state.scan_state import ScanMark, ScanMarks
from memora_cdn.state.schema import scan_state

NOW = datetime(2026, 11, 1, 12, 0, 0)
MARK = datetime(2026, 10, 31, 8, 30, 0, 250_000)
SCOPE = "tabMemora Lesson"


@pytest.fixture
def store(engine: sa.Engine) -> ScanMarks:
    StateRepository(engine).create_schema()
    return ScanMarks(engine)


def stored(store: ScanMarks, seen_names: str | None) -> ScanMark | None:
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(scan_state).values(
                scope=SCOPE, watermark=MARK, seen_names=seen_names, updated_at=NOW
            )
        )
    return store.mark(SCOPE)


@pytest.mark.parametrize(
    "seen_names",
    [None, "", "not json {", "42", '"text"', '{"seen": ["L1"], "undated": "L2", "gone": 7}'],
    ids=["null", "empty", "unreadable", "number", "string", "wrong-shapes"],
)
def test_seen_names_that_cannot_be_read_leave_the_watermark_and_nothing_else(
    store: ScanMarks, seen_names: str | None
) -> None:
    # The next scan only reports the rows at the watermark again: nothing is missed.
    assert stored(store, seen_names) == ScanMark(SCOPE, MARK)


def test_a_plain_list_of_names_from_the_older_layout_reads_as_seen_at_the_watermark(
    store: ScanMarks,
) -> None:
    assert stored(store, '["L1", "L2"]') == ScanMark(SCOPE, MARK, {"L1": MARK, "L2": MARK})


def test_an_unreadable_timestamp_drops_only_that_name(store: ScanMarks) -> None:
    body = (
        '{"seen": {"L1": "2026-10-31T08:30:00.250000", "L2": "yesterday"},'
        ' "undated": ["U1", 5], "gone": ["G1"]}'
    )
    assert stored(store, body) == ScanMark(
        SCOPE, MARK, {"L1": MARK}, frozenset({"U1", "5"}), frozenset({"G1"})
    )


def test_a_mark_with_nothing_seen_is_stored_without_names(store: ScanMarks) -> None:
    store.save([ScanMark(SCOPE, MARK)], NOW)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(scan_state.c.seen_names)).scalar_one() is None
    store.save([], NOW)  # nothing to write: no statement, no error
    assert store.marks() == {SCOPE: ScanMark(SCOPE, MARK)}
