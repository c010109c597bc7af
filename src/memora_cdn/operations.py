"""What the operator surfaces (the CLI, the HTTP API and the dashboard) do, written once: the
queue's status, sync log rows as JSON, dead-letter retry, rebuilds, publications, signed URLs
and purges waiting, a plan's tree as students see it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from memora_cdn.app import App
from memora_cdn.core.access import ResolvedNode, resolve
from memora_cdn.core.model import NodeKind, OverrideAction, SyncStatus, Trigger
from memora_cdn.state.sync_log import SyncLogEntry


def iso(value: datetime | None) -> str | None:
    """The time as the API shows it (ISO 8601, UTC, whole seconds), or None."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def every_plan(application: App) -> list[str]:
    """Plans in the source, and plans published before (which may have to be removed)."""
    published = {p.plan_id for p in application.state.publications(application.store.identity)}
    return sorted(set(application.source.plan_names()) | published)


def sync_entry_json(entry: SyncLogEntry) -> dict[str, Any]:
    """A sync log row as a JSON object."""
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
    state = application.state
    last_success = state.sync_log(status=SyncStatus.SUCCESS, limit=1)
    last_failure = state.sync_log(status=SyncStatus.FAILED, limit=1)
    return {
        "pending": stats.pending,
        "processing": stats.processing,
        "retrying": stats.retrying,
        "dead_letter": stats.dead_letter,
        "queue_backend": queue.name,
        "fallback_pending": stats.fallback_pending,
        "last_success_at": iso(last_success[0].completed_at) if last_success else None,
        "last_failure_at": iso(last_failure[0].completed_at) if last_failure else None,
    }


def failures(application: App, days: int, limit: int) -> list[SyncLogEntry]:
    """Failed builds of the last `days` days (at most `limit`)."""
    since = application.now() - timedelta(days=days)
    return application.state.sync_log(status=SyncStatus.FAILED, since=since, limit=limit)


def retry_dead_letter(application: App, plan: str) -> bool:
    """Put a dead-lettered plan back in the queue with a fresh retry budget (and log it as
    queued); False when the plan is not in the dead letter."""
    now = application.now()
    if not application.queue.retry_dead(plan, now):
        return False
    application.state.log_queued(plan, Trigger.MANUAL, now)
    return True


def rebuild_plan(application: App, plan: str) -> list[str] | None:
    """Queue a plan for a manual rebuild: the plans newly queued (empty when it already
    was), or None for a plan neither the source nor the published index knows."""
    if plan not in every_plan(application):
        return None
    return application.intake.queue_plans([plan], trigger=Trigger.MANUAL)


def plan_publications(application: App) -> list[dict[str, Any]]:
    """Every plan with the files, bytes and last publish the published index holds for it."""
    published = {p.plan_id: p for p in application.state.publications(application.store.identity)}
    listed = []
    for name in every_plan(application):
        publication = published.get(name)
        listed.append(
            {
                "plan_id": name,
                "files": publication.files if publication else 0,
                "bytes": publication.bytes if publication else 0,
                "last_published_at": iso(publication.last_published_at) if publication else None,
            }
        )
    return listed


def expiring_signed_urls(application: App, within_seconds: int) -> list[dict[str, Any]]:
    """Plans holding a signed media URL that expires within `within_seconds`, soonest first,
    with that expiry (the worker rebuilds each before its URLs lapse)."""
    now = int(application.clock())
    found = application.state.expiring_plans(
        application.store.identity, before=now + within_seconds
    )
    return [
        {"plan_id": plan, "expires_at": at, "seconds_left": at - now}
        for plan, at in sorted(found.items(), key=lambda item: (item[1], item[0]))
    ]


def pending_purges(application: App) -> list[dict[str, Any]]:
    """URLs whose CDN purge failed and waits for the plan's retry: per plan, how many and
    since when."""
    return [
        {"plan_id": plan, "urls": count, "oldest": iso(oldest)}
        for plan, (count, oldest) in sorted(application.state.purges_by_plan().items())
    ]


def plan_tree(application: App, plan: str) -> dict[str, Any] | None:
    """The plan as students see it, resolved exactly as the publisher resolves it: every
    visible node with its access block, and the nodes a `Hide` override takes out of it.
    None for a plan the source does not hold or does not publish."""
    snapshot = application.source.load(plan, application.state.members(plan))
    if snapshot is None or not snapshot.plan.is_published:
        return None
    resolved = resolve(snapshot)
    nodes = {(node.kind, node.name): node for node in snapshot.nodes}
    hidden = []
    for row in snapshot.overrides:
        kind = NodeKind.from_doctype(row.target_doctype)
        node = nodes.get((kind, row.target_name)) if kind is not None else None
        if row.action == OverrideAction.HIDE.value and node is not None:
            hidden.append({"id": node.name, "kind": node.kind.value, "title": node.title})
    return {
        "plan_id": plan,
        "title": resolved.plan.title,
        "subjects": [_node_json(subject) for subject in resolved.subjects],
        "hidden": sorted(hidden, key=lambda h: (h["kind"], h["id"])),
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
