"""Plan members: what each plan's last publish included (the reverse index for deletes)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from more_itertools import chunked
from sqlalchemy import delete, insert, select

from memora_cdn.database import IN_CHUNK
from memora_cdn.state.schema import plan_member
from memora_cdn.state.tables import StateTables


class PlanMembers(StateTables):
    """Reads and writes of the (doctype, name) of everything each plan showed."""

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
                for chunk in chunked(names, IN_CHUNK):
                    conn.execute(
                        delete(plan_member).where(
                            plan_member.c.plan_id == plan,
                            plan_member.c.doctype == doctype,
                            plan_member.c.name.in_(chunk),
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
        """The plans whose last publish included this document."""
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
            for chunk in chunked(unique, IN_CHUNK):
                query = select(plan_member.c.name, plan_member.c.plan_id).where(
                    plan_member.c.doctype == doctype,
                    plan_member.c.name.in_(chunk),
                )
                for name, plan in conn.execute(query):
                    found.setdefault(str(name), set()).add(str(plan))
        return found
