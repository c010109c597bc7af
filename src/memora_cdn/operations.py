"""What the operator surfaces (the CLI and the HTTP API) both do, written once: the queue's
status, sync log rows as JSON, dead-letter retry, a plan's tree as students see it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from memora_cdn.app import App
from memora_cdn.core.access import ResolvedNode, resolve
from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.queue.fallback import FallbackQueue
from memora_cdn.state.repo import SyncLogEntry


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def every_plan(application: App) -> list[str]:
    """Plans in the source, and plans published before (which may have to be removed)."""
    published = {p.plan_id for p in application.state.publications(application.store.identity)}
    return sorted(set(application.source.plan_names()) | published)


def sync_entry_json(entry: SyncLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "plan_id": entry.plan_id,
        "status": entry.status.value,
        "triggered_by": entry.triggered_by.value,
        "started_at": iso(entry.started_at),
        "completed_at": iso(entry.completed_at),
        "files_uploaded": entry.counts.files_uploaded,
        "files_deleted": entry.counts.files_deleted,
        "files_unchanged": entry.counts.files_unchanged,
        "bytes_uploaded": entry.counts.bytes_uploaded,
        "error_message": entry.error_message,
        "warnings": list(entry.warnings),
    }


def queue_status(application: App) -> dict[str, Any]:
    """SPEC §9 `GET /api/status`: the queue by state, its backend, what waits in the SQL
    fallback, and when a build last succeeded and last failed."""
    now = application.now()
    stats = application.queue.stats(now)
    queue = application.queue
    fallback = queue.fallback.pending_count() if isinstance(queue, FallbackQueue) else 0
    state = application.state
    last_success = state.sync_log(status=SyncStatus.SUCCESS, limit=1)
    last_failure = state.sync_log(status=SyncStatus.FAILED, limit=1)
    return {
        "pending": stats.pending,
        "processing": stats.processing,
        "retrying": stats.retrying,
        "dead_letter": stats.dead_letter,
        "queue_backend": queue.name,
        "fallback_pending": fallback,
        "last_success_at": iso(last_success[0].completed_at) if last_success else None,
        "last_failure_at": iso(last_failure[0].completed_at) if last_failure else None,
    }


def failures(application: App, days: int, limit: int) -> list[SyncLogEntry]:
    since = application.now() - timedelta(days=days)
    return application.state.sync_log(status=SyncStatus.FAILED, since=since, limit=limit)


def retry_dead_letter(application: App, plan: str) -> bool:
    """Put a dead-lettered plan back in the queue with a fresh retry budget (and log it as
    queued); False when the plan is not in the dead letter."""
    now = application.now()
    if not application.queue.retry_dead(plan, now):
        return False
    application.state.log_start(plan, Trigger.MANUAL, now, status=SyncStatus.QUEUED)
    return True


def plan_tree(application: App, plan: str) -> dict[str, Any] | None:
    """The plan as students see it, resolved exactly as the publisher resolves it: every
    visible node with its access block. None for a plan the source does not hold or does not
    publish."""
    snapshot = application.source.load(plan, application.state.members(plan))
    if snapshot is None or not snapshot.plan.is_published:
        return None
    resolved = resolve(snapshot)
    return {
        "plan_id": plan,
        "title": resolved.plan.title,
        "subjects": [_node_json(subject) for subject in resolved.subjects],
        "warnings": list(resolved.warnings),
    }


def _node_json(node: ResolvedNode) -> dict[str, Any]:
    return {
        "id": node.name,
        "kind": node.kind.value,
        "title": node.title,
        "is_linear": node.is_linear,
        "access": node.access.as_json(),
        "children": [_node_json(child) for child in node.children],
    }
