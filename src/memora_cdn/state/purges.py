"""Purges that failed: the URLs of each plan waiting for a purge retry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from more_itertools import chunked
from sqlalchemy import delete, func, select

from memora_cdn.database import IN_CHUNK
from memora_cdn.state.schema import purge_pending, upsert
from memora_cdn.state.tables import StateTables


class PendingPurges(StateTables):
    """Reads and writes of the URLs waiting for a purge retry, per plan."""

    def pending_purges(self, plan: str) -> list[str]:
        """The plan's URLs waiting for a purge retry, sorted."""
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
        """Note these URLs of the plan as waiting for a purge retry since `at`."""
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
            for chunk in chunked(done, IN_CHUNK):
                conn.execute(
                    delete(purge_pending).where(
                        purge_pending.c.plan_id == plan,
                        purge_pending.c.key.in_(chunk),
                    )
                )
