"""The published index: what each store holds for each plan, and what validated it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from more_itertools import chunked
from sqlalchemy import delete, func, select

from memora_cdn.core.documents import Published
from memora_cdn.database import IN_CHUNK
from memora_cdn.state.schema import published_object, upsert, validated_plan
from memora_cdn.state.tables import StateTables


@dataclass(frozen=True, slots=True)
class PlanPublication:
    """What the published index holds for one plan."""

    plan_id: str
    files: int
    bytes: int
    last_published_at: datetime | None


_PUBLISHED_UPDATED = ("sha256", "size", "version", "published_at", "expires_at")


class PublishedIndex(StateTables):
    """Reads and writes of the published index. Every method takes the store's identity
    (`ObjectStore.identity`): the index of one store says nothing about another."""

    def published(self, store: str, plan: str) -> dict[str, Published]:
        """What the index holds for the plan on `store`, by key."""
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
            for chunk in chunked(wanted, IN_CHUNK):
                query = select(published_object.c.plan_id, published_object.c.key).where(
                    published_object.c.store == store,
                    published_object.c.key.in_(chunk),
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
            for chunk in chunked(keys, IN_CHUNK):
                conn.execute(
                    delete(published_object).where(
                        published_object.c.store == store,
                        published_object.c.plan_id == plan,
                        published_object.c.key.in_(chunk),
                    )
                )

    def publications(self, store: str) -> list[PlanPublication]:
        """Files, bytes and the last publish time of each plan on `store`, by plan."""
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
