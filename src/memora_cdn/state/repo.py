"""Reads and writes of the state tables: the published index, plan members, the sync log."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from memora_cdn.core.documents import Published
from memora_cdn.core.model import SyncStatus, Trigger
from memora_cdn.errors import SettingError
from memora_cdn.state.migrate import upgrade
from memora_cdn.state.schema import (
    STORE,
    plan_member,
    published_object,
    purge_pending,
    sync_log,
    upsert,
    validated_plan,
    webhook_event,
)


@dataclass(frozen=True, slots=True)
class SyncCounts:
    files_uploaded: int = 0
    files_deleted: int = 0
    files_unchanged: int = 0
    bytes_uploaded: int = 0
    purge_requests: int = 0
    purge_failures: int = 0
    """Purge calls that failed for good (the build is then Failed, its files uploaded)."""


@dataclass(frozen=True, slots=True)
class SyncLogEntry:
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


@dataclass(frozen=True, slots=True)
class PlanPublication:
    """What the published index holds for one plan."""

    plan_id: str
    files: int
    bytes: int
    last_published_at: datetime | None


_PUBLISHED_UPDATED = ("sha256", "size", "version", "published_at", "expires_at")
_IN_CHUNK = 500
"""Values in one `IN (…)` list."""


class StateStore:
    """memora-cdn's own tables, in the state database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(
        self,
        *,
        store: str | None = None,
        now: datetime | None = None,
        adopt: Callable[[], None] | None = None,
    ) -> int:
        """Create the state tables, or upgrade those of an earlier release in place; returns
        the schema version found (`migrate.LATEST` for new tables).

        `store`: the identity of the configured store (where an index that predates store
        identities was published); needed only for that upgrade. `adopt`: marks that store
        when its index was upgraded (see `migrate.upgrade`)."""
        if store is not None and len(store) > STORE:
            raise SettingError(
                "store",
                store,
                f"its identity is longer than {STORE} characters: use a shorter path or prefix",
            )
        at = now or datetime.now(UTC).replace(tzinfo=None)
        return upgrade(self.engine, store, at, adopt)

    # -- published index: what each store holds for each plan ---------------------------
    # Every method takes the store's identity (`ObjectStore.identity`): the index of one
    # store says nothing about another.

    def published(self, store: str, plan: str) -> dict[str, Published]:
        query = select(
            published_object.c.key,
            published_object.c.sha256,
            published_object.c.version,
            published_object.c.size,
            published_object.c.expires_at,
        ).where(published_object.c.store == store, published_object.c.plan_id == plan)
        with self.engine.connect() as conn:
            return {
                row.key: Published(row.sha256, row.version, row.size, row.expires_at)
                for row in conn.execute(query)
            }

    def indexed_files(self, store: str) -> int:
        """How many files the index says `store` holds."""
        query = select(func.count()).where(published_object.c.store == store)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def holders(self, store: str, keys: Iterable[str]) -> set[tuple[str, str]]:
        """(plan, key) for each of these keys that the index holds on `store`."""
        wanted = sorted(set(keys))
        found: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                query = select(published_object.c.plan_id, published_object.c.key).where(
                    published_object.c.store == store,
                    published_object.c.key.in_(wanted[start : start + _IN_CHUNK]),
                )
                found.update((str(row[0]), str(row[1])) for row in conn.execute(query))
        return found

    def record_uploads(
        self, store: str, plan: str, uploads: Sequence[tuple[str, Published]], at: datetime
    ) -> None:
        """Note a batch of uploaded files, (key, entry) each, in one transaction and one
        statement: a build killed after it resumes past them (SPEC §4 step 4)."""
        if not uploads:
            return
        rows = [
            {
                "store": store,
                "plan_id": plan,
                "key": key,
                "sha256": entry.sha256,
                "size": entry.size,
                "version": entry.version,
                "published_at": at,
                "expires_at": entry.expires_at,
            }
            for key, entry in uploads
        ]
        with self.engine.begin() as conn:
            conn.execute(upsert(conn.dialect.name, published_object, _PUBLISHED_UPDATED), rows)

    def record_deletes(self, store: str, plan: str, keys: Sequence[str]) -> None:
        """Forget deleted keys, in one transaction."""
        if not keys:
            return
        with self.engine.begin() as conn:
            for start in range(0, len(keys), _IN_CHUNK):
                conn.execute(
                    delete(published_object).where(
                        published_object.c.store == store,
                        published_object.c.plan_id == plan,
                        published_object.c.key.in_(keys[start : start + _IN_CHUNK]),
                    )
                )

    def forget_plan(self, store: str, plan: str) -> None:
        """Drop everything known about a plan that is no longer exported."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(published_object).where(
                    published_object.c.store == store, published_object.c.plan_id == plan
                )
            )
            conn.execute(delete(plan_member).where(plan_member.c.plan_id == plan))
            conn.execute(
                delete(validated_plan).where(
                    validated_plan.c.store == store, validated_plan.c.plan_id == plan
                )
            )

    def publications(self, store: str) -> list[PlanPublication]:
        query = (
            select(
                published_object.c.plan_id,
                func.count(),
                func.coalesce(func.sum(published_object.c.size), 0),
                func.max(published_object.c.published_at),
            )
            .where(published_object.c.store == store)
            .group_by(published_object.c.plan_id)
            .order_by(published_object.c.plan_id)
        )
        with self.engine.connect() as conn:
            return [PlanPublication(r[0], int(r[1]), int(r[2]), r[3]) for r in conn.execute(query)]

    def expiring_plans(self, store: str, before: int) -> dict[str, int]:
        """Plans whose files on `store` hold a signed URL expiring before `before` (Unix s),
        with the earliest expiry of each."""
        earliest = func.min(published_object.c.expires_at)
        query = (
            select(published_object.c.plan_id, earliest)
            .where(published_object.c.store == store, published_object.c.expires_at.is_not(None))
            .group_by(published_object.c.plan_id)
            .having(earliest < before)
        )
        with self.engine.connect() as conn:
            return {str(row[0]): int(row[1]) for row in conn.execute(query)}

    # -- purges that failed -------------------------------------------------------------

    def validated_digest(self, store: str, plan: str) -> str | None:
        """The schema digest every document indexed for the plan was validated against."""
        query = select(validated_plan.c.schema_digest).where(
            validated_plan.c.store == store, validated_plan.c.plan_id == plan
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def record_validated(self, store: str, plan: str, digest: str, at: datetime) -> None:
        """Note that what the index holds for the plan was validated against `digest`."""
        statement = upsert(
            self.engine.dialect.name, validated_plan, ("schema_digest", "validated_at")
        )
        with self.engine.begin() as conn:
            conn.execute(
                statement,
                {"store": store, "plan_id": plan, "schema_digest": digest, "validated_at": at},
            )

    def pending_purges(self, plan: str) -> list[str]:
        query = select(purge_pending.c.key).where(purge_pending.c.plan_id == plan)
        with self.engine.connect() as conn:
            return sorted(str(row[0]) for row in conn.execute(query))

    def purges_by_plan(self) -> dict[str, tuple[int, datetime]]:
        """URLs waiting for a purge retry, per plan: how many, and since when (the oldest)."""
        query = select(
            purge_pending.c.plan_id, func.count(), func.min(purge_pending.c.queued_at)
        ).group_by(purge_pending.c.plan_id)
        with self.engine.connect() as conn:
            return {str(r[0]): (int(r[1]), r[2]) for r in conn.execute(query)}

    def add_pending_purges(self, plan: str, keys: Iterable[str], at: datetime) -> None:
        rows = [{"plan_id": plan, "key": key, "queued_at": at} for key in sorted(set(keys))]
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(upsert(conn.dialect.name, purge_pending, ("queued_at",)), rows)

    def clear_pending_purges(self, plan: str, keys: Iterable[str] | None = None) -> None:
        """Forget these purged URLs of the plan; all of them when `keys` is None."""
        if keys is None:
            with self.engine.begin() as conn:
                conn.execute(delete(purge_pending).where(purge_pending.c.plan_id == plan))
            return
        done = sorted(set(keys))
        with self.engine.begin() as conn:
            for start in range(0, len(done), _IN_CHUNK):
                conn.execute(
                    delete(purge_pending).where(
                        purge_pending.c.plan_id == plan,
                        purge_pending.c.key.in_(done[start : start + _IN_CHUNK]),
                    )
                )

    # -- plan members -------------------------------------------------------------------

    def replace_members(self, plan: str, members: Iterable[tuple[str, str]]) -> None:
        """Set what the plan's last publish included (the reverse index for deletes), with
        a number of statements that does not grow with the plan (only with what left it)."""
        wanted = set(members)
        query = select(plan_member.c.doctype, plan_member.c.name).where(
            plan_member.c.plan_id == plan
        )
        with self.engine.begin() as conn:
            current = {(r.doctype, r.name) for r in conn.execute(query)}
            gone: dict[str, list[str]] = {}
            for doctype, name in sorted(current - wanted):
                gone.setdefault(doctype, []).append(name)
            for doctype, names in gone.items():
                for start in range(0, len(names), _IN_CHUNK):
                    conn.execute(
                        delete(plan_member).where(
                            plan_member.c.plan_id == plan,
                            plan_member.c.doctype == doctype,
                            plan_member.c.name.in_(names[start : start + _IN_CHUNK]),
                        )
                    )
            new = [{"plan_id": plan, "doctype": d, "name": n} for d, n in sorted(wanted - current)]
            if new:
                conn.execute(insert(plan_member), new)

    def members(self, plan: str) -> frozenset[tuple[str, str]]:
        """(doctype, name) of everything the plan's last publish included."""
        query = select(plan_member.c.doctype, plan_member.c.name).where(
            plan_member.c.plan_id == plan
        )
        with self.engine.connect() as conn:
            return frozenset((r.doctype, r.name) for r in conn.execute(query))

    def plans_with_member(self, doctype: str, name: str) -> set[str]:
        query = select(plan_member.c.plan_id).where(
            plan_member.c.doctype == doctype, plan_member.c.name == name
        )
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    def plans_with_members(self, doctype: str, names: Collection[str]) -> dict[str, set[str]]:
        """`plans_with_member` of each name, in one query per 500 names."""
        found: dict[str, set[str]] = {name: set() for name in names}
        unique = sorted(found)
        with self.engine.connect() as conn:
            for start in range(0, len(unique), 500):
                query = select(plan_member.c.name, plan_member.c.plan_id).where(
                    plan_member.c.doctype == doctype,
                    plan_member.c.name.in_(unique[start : start + 500]),
                )
                for name, plan in conn.execute(query):
                    found.setdefault(str(name), set()).add(str(plan))
        return found

    # -- sync log -----------------------------------------------------------------------

    def log_start(
        self,
        plan: str,
        triggered_by: Trigger,
        at: datetime,
        *,
        status: SyncStatus = SyncStatus.PROCESSING,
        retry_count: int = 0,
        is_fallback: bool = False,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(sync_log).values(
                    plan_id=plan,
                    status=status.value,
                    triggered_by=triggered_by.value,
                    started_at=at,
                    retry_count=retry_count,
                    is_fallback=is_fallback,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def start_attempt(
        self,
        plan: str,
        triggered_by: Trigger,
        at: datetime,
        *,
        retry_count: int = 0,
        is_fallback: bool = False,
    ) -> int:
        """The plan's waiting `Queued` row becomes `Processing` (or a new row is started)."""
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
                .values(
                    status=SyncStatus.FAILED.value,
                    completed_at=at,
                    error_message="worker lost: its lease ran out before the build finished",
                )
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
        return self.log_start(
            plan, triggered_by, at, retry_count=retry_count, is_fallback=is_fallback
        )

    def set_status(self, log_id: int, status: SyncStatus) -> None:
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
        values: dict[str, Any] = {
            "status": status.value,
            "completed_at": at,
            "files_uploaded": counts.files_uploaded,
            "files_deleted": counts.files_deleted,
            "files_unchanged": counts.files_unchanged,
            "bytes_uploaded": counts.bytes_uploaded,
            "purge_requests": counts.purge_requests,
            "purge_failures": counts.purge_failures,
            "warnings": json.dumps(list(warnings), ensure_ascii=False) if warnings else None,
            "error_message": error,
        }
        with self.engine.begin() as conn:
            conn.execute(update(sync_log).where(sync_log.c.id == log_id).values(**values))

    def count_webhook(self, outcome: str) -> None:
        """One more webhook call with this outcome (see `webhook_counts`)."""
        self.count_webhooks({outcome: 1})

    def count_webhooks(self, calls: Mapping[str, int]) -> None:
        """More webhook calls, by outcome, counted in one transaction."""
        with self.engine.begin() as conn:
            for outcome, n in calls.items():
                add = (
                    update(webhook_event)
                    .where(webhook_event.c.outcome == outcome)
                    .values(count=webhook_event.c.count + n)
                )
                if conn.execute(add).rowcount:
                    continue
                try:
                    with conn.begin_nested():
                        conn.execute(insert(webhook_event).values(outcome=outcome, count=n))
                except IntegrityError:  # another process inserted it first
                    conn.execute(add)

    def webhook_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(webhook_event)).mappings()
            return {row["outcome"]: int(row["count"]) for row in rows}

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
