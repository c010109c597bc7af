"""`status --json` from dataclasses: the SPEC §8 keys in order, datetimes as `…Z` strings,
and `orphans_error` only when the orphans could not be read."""

from __future__ import annotations

import json
from datetime import datetime

from memora_cdn.commands.output import QueueSummary, StatusReport
from memora_cdn.core.model import Doctype, Orphan, SyncStatus, Trigger
from memora_cdn.state.published_index import PlanPublication
from memora_cdn.state.sync_log import SyncCounts, SyncLogEntry

AT = datetime(2026, 12, 2, 10, 30, 5)
QUEUE = QueueSummary(backend="sql", pending=1, processing=0, retrying=2, dead_letter=3)


def report(**overrides: object) -> StatusReport:
    entry = SyncLogEntry(
        id=7,
        plan_id="P1",
        status=SyncStatus.SUCCESS,
        triggered_by=Trigger.MANUAL,
        started_at=AT,
        completed_at=None,
        counts=SyncCounts(files_uploaded=3, bytes_uploaded=120),
        retry_count=0,
        is_fallback=False,
        error_message=None,
        warnings=("w",),
    )
    fields: dict[str, object] = {
        "queue": QUEUE,
        "plans": [PlanPublication("P1", files=4, bytes=512, last_published_at=AT)],
        "recent_syncs": [entry],
        "orphans": [Orphan(Doctype.LESSON, "L1", Doctype.TOPIC, None)],
    }
    return StatusReport(**(fields | overrides))  # type: ignore[arg-type]


def test_status_json_has_the_spec_keys_in_order_and_iso_datetimes() -> None:
    text = report().to_json()
    payload = json.loads(text)
    assert list(payload) == ["queue", "plans", "recent_syncs", "orphans"]
    assert payload["queue"] == {
        "backend": "sql",
        "pending": 1,
        "processing": 0,
        "retrying": 2,
        "dead_letter": 3,
    }
    assert list(payload["queue"]) == ["backend", "pending", "processing", "retrying", "dead_letter"]
    assert payload["plans"] == [
        {"plan_id": "P1", "files": 4, "bytes": 512, "last_published_at": "2026-12-02T10:30:05Z"}
    ]
    assert payload["recent_syncs"] == [
        {
            "id": 7,
            "plan_id": "P1",
            "status": "Success",
            "triggered_by": "Manual",
            "started_at": "2026-12-02T10:30:05Z",
            "completed_at": None,
            "files_uploaded": 3,
            "files_deleted": 0,
            "files_unchanged": 0,
            "bytes_uploaded": 120,
            "error_message": None,
            "warnings": ["w"],
        }
    ]
    assert payload["orphans"] == [
        {"doctype": "Memora Lesson", "name": "L1", "parent_doctype": "Memora Topic", "parent": None}
    ]
    assert text.startswith('{\n  "queue": {\n    "backend": "sql",')  # indented by two


def test_unreadable_orphans_are_null_with_the_reason() -> None:
    payload = json.loads(report(orphans=None, orphans_error="database error: gone").to_json())
    assert payload["orphans"] is None
    assert payload["orphans_error"] == "database error: gone"
    assert list(payload)[-1] == "orphans_error"


def test_non_ascii_text_is_written_as_is() -> None:
    text = report(plans=[PlanPublication("خطة", files=1, bytes=1, last_published_at=None)])
    assert '"plan_id": "خطة"' in text.to_json()
