"""The sync log: one row per queued plan, build attempt or skipped plan, with its outcome."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.state.schema import sync_log
from memora_cdn.state.tables import StateTables

LOST_WORKER = "worker lost: its lease ran out before the build finished"
"""The error of a build left `Processing` when the next attempt at its plan begins."""


@dataclass(frozen=True, slots=True)
class SyncCounts:
    """What one build did to the store and the CDN."""

    files_uploaded: int = 0
    files_deleted: int = 0
    files_unchanged: int = 0
    bytes_uploaded: int = 0
    purge_requests: int = 0
    purge_failures: int = 0
    """Purge calls that failed for good (the build is then Failed, its files uploaded)."""


@dataclass(frozen=True, slots=True)
class SyncLogEntry:
    """One row of the sync log, as read back."""

    id: int
    plan_id: str
    status: SyncStatus
    triggered_by: Trigger
    started_at: datetime
    completed_at: datetime | None
    counts: SyncCounts
    retry_count: int
    is_fallback: bool
    error_message: str | None
    warnings: tuple[str, ...]


class SyncLog(StateTables):
    """Reads and writes of the sync log."""

    def log_queued(
        self,
        plan: str,
        triggered_by: Trigger,
        at: datetime,
        *,
        retry_count: int = 0,
        is_fallback: bool = False,
    ) -> int:
        """Add a `Queued` row: the plan waits in the queue (from `at`, for a retry); its id."""
        return self._add(
            plan,
            triggered_by,
            at,
            SyncStatus.QUEUED,
            retry_count=retry_count,
            is_fallback=is_fallback,
        )

    def log_processing(
        self, plan: str, triggered_by: Trigger, at: datetime, *, retry_count: int = 0
    ) -> int:
        """Add a `Processing` row for a build begun outside the queue, touching no other row;
        its id."""
        return self._add(plan, triggered_by, at, SyncStatus.PROCESSING, retry_count=retry_count)

    def log_skipped(
        self, plan: str, triggered_by: Trigger, at: datetime, warnings: Sequence[str]
    ) -> int:
        """Add a finished `Success` row for a plan that was not built, saying why; its id."""
        return self._add(
            plan,
            triggered_by,
            at,
            SyncStatus.SUCCESS,
            completed_at=at,
            warnings=_warnings_json(warnings),
        )

    def begin_attempt_failing_lost(
        self,
        plan: str,
        triggered_by: Trigger,
        at: datetime,
        *,
        retry_count: int = 0,
        is_fallback: bool = False,
    ) -> int:
        """Begin a build of the plan from the queue: its rows still `Processing` become
        `Failed` (their worker is lost), and its newest `Queued` row becomes this attempt's
        `Processing` row, older `Queued` rows folded into it (a new row when none waits)."""
        waiting = (
            select(func.max(sync_log.c.id))
            .where(sync_log.c.plan_id == plan, sync_log.c.status == SyncStatus.QUEUED.value)
            .scalar_subquery()
        )
        values = {
            "status": SyncStatus.PROCESSING.value,
            "triggered_by": triggered_by.value,
            "started_at": at,
            "retry_count": retry_count,
            "is_fallback": is_fallback,
        }
        with self.engine.begin() as conn:
            # Whoever held this plan before us is gone (its lease ran out): say so.
            conn.execute(
                update(sync_log)
                .where(
                    sync_log.c.plan_id == plan,
                    sync_log.c.status == SyncStatus.PROCESSING.value,
                )
                .values(status=SyncStatus.FAILED.value, completed_at=at, error_message=LOST_WORKER)
            )
            log_id = conn.execute(select(waiting)).scalar()
            if log_id is not None:
                conn.execute(update(sync_log).where(sync_log.c.id == log_id).values(**values))
                # Older waiting rows (queued twice before a build) are folded into this one.
                conn.execute(
                    delete(sync_log).where(
                        sync_log.c.plan_id == plan,
                        sync_log.c.status == SyncStatus.QUEUED.value,
                        sync_log.c.id < log_id,
                    )
                )
                return int(log_id)
        return self._add(
            plan,
            triggered_by,
            at,
            SyncStatus.PROCESSING,
            retry_count=retry_count,
            is_fallback=is_fallback,
        )

    def set_status(self, log_id: int, status: SyncStatus) -> None:
        """Change a row's status only (a failed build moved to the dead letter)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sync_log).where(sync_log.c.id == log_id).values(status=status.value)
            )

    def log_finish(
        self,
        log_id: int,
        status: SyncStatus,
        at: datetime,
        counts: SyncCounts = SyncCounts(),
        warnings: Sequence[str] = (),
        error: str | None = None,
    ) -> None:
        """Close a row with the build's outcome, counts, warnings and error."""
        values: dict[str, Any] = {
            "status": status.value,
            "completed_at": at,
            "files_uploaded": counts.files_uploaded,
            "files_deleted": counts.files_deleted,
            "files_unchanged": counts.files_unchanged,
            "bytes_uploaded": counts.bytes_uploaded,
            "purge_requests": counts.purge_requests,
            "purge_failures": counts.purge_failures,
            "warnings": _warnings_json(warnings),
            "error_message": error,
        }
        with self.engine.begin() as conn:
            conn.execute(update(sync_log).where(sync_log.c.id == log_id).values(**values))

    def sync_log(
        self,
        *,
        plan: str | None = None,
        status: SyncStatus | None = None,
        limit: int = 50,
        since: datetime | None = None,
        finished: bool = False,
    ) -> list[SyncLogEntry]:
        """The newest rows first; `since` keeps those started at or after it, `finished`
        those with a completion time."""
        query = select(sync_log).order_by(sync_log.c.id.desc()).limit(limit)
        if finished:
            query = query.where(sync_log.c.completed_at.is_not(None))
        if since is not None:
            query = query.where(sync_log.c.started_at >= since)
        if plan is not None:
            query = query.where(sync_log.c.plan_id == plan)
        if status is not None:
            query = query.where(sync_log.c.status == status.value)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query).mappings()]

    def _add(
        self, plan: str, triggered_by: Trigger, at: datetime, status: SyncStatus, **columns: Any
    ) -> int:
        """Insert a row (other columns at their defaults); its id."""
        row = {
            "plan_id": plan,
            "status": status.value,
            "triggered_by": triggered_by.value,
            "started_at": at,
            **columns,
        }
        with self.engine.begin() as conn:
            key = conn.execute(insert(sync_log).values(**row)).inserted_primary_key
            assert key is not None
            return int(key[0])


def _warnings_json(warnings: Sequence[str]) -> str | None:
    return json.dumps(list(warnings), ensure_ascii=False) if warnings else None


def _entry(row: Mapping[Any, Any]) -> SyncLogEntry:
    return SyncLogEntry(
        id=row["id"],
        plan_id=row["plan_id"],
        status=SyncStatus(row["status"]),
        triggered_by=Trigger(row["triggered_by"]),
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        counts=SyncCounts(
            files_uploaded=row["files_uploaded"],
            files_deleted=row["files_deleted"],
            files_unchanged=row["files_unchanged"],
            bytes_uploaded=row["bytes_uploaded"],
            purge_requests=row["purge_requests"],
            purge_failures=row["purge_failures"],
        ),
        retry_count=row["retry_count"],
        is_fallback=bool(row["is_fallback"]),
        error_message=row["error_message"],
        warnings=tuple(json.loads(row["warnings"])) if row["warnings"] else (),
    )
