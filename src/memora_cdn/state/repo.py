"""`StateRepository`: memora-cdn's own tables, one part per concept on one engine.
Design notes: docs/decisions/state-store.md"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import delete

from memora_cdn.errors import SettingError
from memora_cdn.state.members import PlanMembers
from memora_cdn.state.migrate import upgrade
from memora_cdn.state.published_index import PublishedIndex
from memora_cdn.state.purges import PendingPurges
from memora_cdn.state.schema import STORE, plan_member, published_object, validated_plan
from memora_cdn.state.sync_log import SyncLog
from memora_cdn.state.webhooks import WebhookCounts


class StateRepository(PublishedIndex, PendingPurges, PlanMembers, SyncLog, WebhookCounts):
    """memora-cdn's own tables, in the state database: the parts, and what spans them."""

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

    def forget_plan(self, store: str, plan: str) -> None:
        """Drop everything known about a plan that is no longer exported, in one transaction:
        its published index on `store`, its members and its validated digest."""
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
