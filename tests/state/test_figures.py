"""Figures for /metrics read from the state tables (state/figures.py), on every backend."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.state.figures import read_figures
from memora_cdn.state.repo import StateRepository
from memora_cdn.state.sync_log import SyncCounts

NOW = datetime(2026, 1, 1, 12, 0, 0)


def test_webhook_outcomes_are_counted_in_the_state_database(engine: sa.Engine) -> None:
    state = StateRepository(engine)
    state.create_schema()
    for outcome in ("accepted", "accepted", "bad_signature", "accepted"):
        state.count_webhooks({outcome: 1})
    assert state.webhook_counts() == {"accepted": 3, "bad_signature": 1}
    assert StateRepository(engine).webhook_counts() == {"accepted": 3, "bad_signature": 1}


def test_figures_sum_builds_by_status_and_trigger_with_their_durations(
    engine: sa.Engine,
) -> None:
    state = StateRepository(engine)
    state.create_schema()
    for seconds, status in (
        (2, SyncStatus.SUCCESS),
        (40, SyncStatus.SUCCESS),
        (1, SyncStatus.FAILED),
    ):
        log_id = state.log_processing("P", Trigger.SCHEDULER, NOW)
        failures = 1 if status is SyncStatus.FAILED else 0
        counts = SyncCounts(
            files_uploaded=3, bytes_uploaded=100, purge_requests=1, purge_failures=failures
        )
        state.log_finish(log_id, status, NOW + timedelta(seconds=seconds), counts)
    state.log_queued("Q", Trigger.MANUAL, NOW - timedelta(minutes=5))
    figures = read_figures(engine)
    assert figures.builds == {("Success", "Scheduler"): 2, ("Failed", "Scheduler"): 1}
    assert sorted(figures.durations) == [1.0, 2.0, 40.0]
    assert (figures.files_uploaded, figures.bytes_uploaded, figures.purge_requests) == (9, 300, 3)
    assert figures.purge_failures == 1
    assert figures.oldest_queued == NOW - timedelta(minutes=5)
