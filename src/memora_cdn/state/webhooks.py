"""Webhook calls counted by outcome, shared by every `serve` process."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from memora_cdn.state.schema import webhook_event
from memora_cdn.state.tables import StateTables


class WebhookCounts(StateTables):
    """Reads and writes of the webhook call counters."""

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
        """Webhook calls so far, by outcome."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(webhook_event)).mappings()
            return {row["outcome"]: int(row["count"]) for row in rows}
