"""Figures for `/metrics`, read from the state tables at scrape time (SPEC §9): every
`serve` process, and every worker, share them, so any instance reports the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select

from memora_cdn.core.model import SyncStatus
from memora_cdn.state.schema import sync_log, webhook_event

FINISHED = (SyncStatus.SUCCESS.value, SyncStatus.FAILED.value, SyncStatus.DEAD_LETTER.value)


@dataclass(frozen=True, slots=True)
class StateFigures:
    """The `/metrics` figures the state tables hold."""

    builds: dict[tuple[str, str], int] = field(default_factory=dict)
    """Finished builds by (status, trigger)."""
    durations: list[float] = field(default_factory=list)
    """Seconds each finished build took (the sync log's started → completed)."""
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    purge_requests: int = 0
    purge_failures: int = 0
    oldest_queued: datetime | None = None
    """When the longest-waiting `Queued` row was queued."""
    webhook_events: dict[str, int] = field(default_factory=dict)


def read_figures(engine: Engine) -> StateFigures:
    """The figures, read from the state tables in a few statements."""
    c = sync_log.c
    finished = c.status.in_(FINISHED)
    with engine.connect() as conn:
        builds = {
            (row.status, row.triggered_by): int(row.n)
            for row in conn.execute(
                select(c.status, c.triggered_by, func.count().label("n"))
                .where(finished)
                .group_by(c.status, c.triggered_by)
            )
        }
        durations = [
            max(0.0, (row.completed_at - row.started_at).total_seconds())
            for row in conn.execute(
                select(c.started_at, c.completed_at).where(finished, c.completed_at.is_not(None))
            )
        ]
        totals = conn.execute(
            select(
                func.coalesce(func.sum(c.files_uploaded), 0),
                func.coalesce(func.sum(c.bytes_uploaded), 0),
                func.coalesce(func.sum(c.purge_requests), 0),
                func.coalesce(func.sum(c.purge_failures), 0),
            )
        ).one()
        oldest = conn.execute(
            select(func.min(c.started_at)).where(c.status == SyncStatus.QUEUED.value)
        ).scalar()
        webhooks = {
            row["outcome"]: int(row["count"])
            for row in conn.execute(select(webhook_event)).mappings()
        }
    return StateFigures(
        builds=builds,
        durations=durations,
        files_uploaded=int(totals[0]),
        bytes_uploaded=int(totals[1]),
        purge_requests=int(totals[2]),
        purge_failures=int(totals[3]),
        oldest_queued=oldest,
        webhook_events=webhooks,
    )
