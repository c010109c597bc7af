"""A whole memora-cdn site for scenario tests: a source database, state, a folder store,
the composition root's App with an injected clock, and the check every scenario ends with:
the store equals what a fresh full export of the current database would write."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from catalogue import CatalogueBuilder, create_content_schema
from memora_cdn.app import App, build_app
from memora_cdn.core.events import Action
from memora_cdn.core.model import Doctype, SyncStatus, Trigger
from memora_cdn.settings import load_settings
from memora_cdn.source.schema import content_metadata
from memora_cdn.state.scan_state import ScanMarks
from memora_cdn.state.schema import sync_log
from memora_cdn.store.local import FileStore
from memora_cdn.sync.intake import IntakeResult
from memora_cdn.sync.processor import BatchReport
from memora_cdn.sync.scan import Scanner

CONTENT = content_metadata()
START = 1_790_000_000.0
CDN = "https://cdn.example.test"
"""The public base URL a purging site's files are served from."""
_VERSIONED = re.compile(r"\?v=[0-9a-f]{12}")


@dataclass
class FakeClock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC).replace(tzinfo=None)


class Site:
    def __init__(self, root: Path, database_url: str | None = None, **settings: Any) -> None:
        self.root = root
        self.clock = FakeClock()
        self.database_url = database_url or f"sqlite:///{root / 'site.db'}"
        settings.setdefault("state_database_url", f"sqlite:///{root / 'state.db'}")
        settings.setdefault("store", f"file://{root / 'cdn'}")
        self.settings = load_settings(database_url=self.database_url, **settings)
        self.app: App = build_app(self.settings, clock=self.clock)
        self.engine = self.app.source.engine
        create_content_schema(self.engine)
        self.app.state.create_schema()
        self.build = CatalogueBuilder(self.engine)

    def close(self) -> None:
        self.app.close()

    # -- content edits, as an editor's save would make them ------------------------------

    def update(self, doctype: Doctype, name: str, **values: object) -> None:
        table = CONTENT.tables[doctype.table]
        values.setdefault("modified", self.clock.datetime())
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(table).where(table.c.name == name).values(**values))
        assert done.rowcount == 1, f"no {doctype.value} {name!r}"

    def delete(self, doctype: Doctype, name: str) -> dict[str, Any]:
        """Delete a row directly (no trace left); returns what it held."""
        table = CONTENT.tables[doctype.table]
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(table).where(table.c.name == name)).mappings().one()
            conn.execute(sa.delete(table).where(table.c.name == name))
        return dict(row)

    # -- memora-cdn ---------------------------------------------------------------------

    def notify(self, doctype: Doctype, name: str, action: Action = Action.UPDATE) -> IntakeResult:
        self.build.insert()
        return self.app.intake.notify(doctype.value, name, action)

    def scan(self) -> IntakeResult:
        """What `memora-cdn scan` does: poll the source, queue, then advance the watermarks."""
        self.build.insert()
        scanner = Scanner(self.app.source, ScanMarks(self.app.state.engine), self.clock)
        result = scanner.scan()
        queued = self.app.intake.submit(result.events)
        scanner.commit(result)
        return queued

    def queue_all(self) -> None:
        self.build.insert()
        self.app.intake.queue_plans(self.app.source.plan_names(), trigger=Trigger.MANUAL)

    def batch(self, trigger: Trigger = Trigger.SCHEDULER, **kwargs: Any) -> BatchReport:
        self.build.insert()
        return self.app.processor().run(trigger, **kwargs)

    @property
    def store(self) -> FileStore:
        store = self.app.store
        assert isinstance(store, FileStore)
        return store

    def keys(self, plan: str | None = None) -> set[str]:
        return set(self.store.list_keys(f"plans/{plan}/" if plan else ""))

    def doc(self, key: str) -> dict[str, Any]:
        body = self.store.get(key)
        assert body is not None, f"{key} is not in the store"
        loaded: dict[str, Any] = json.loads(body)
        return loaded

    def text(self, plan: str) -> str:
        return "".join((self.store.get(key) or b"").decode() for key in sorted(self.keys(plan)))

    def successful_builds(self) -> dict[str, list[tuple[datetime, datetime]]]:
        """(started_at, completed_at) of every successful build, by plan."""
        query = sa.select(sync_log.c.plan_id, sync_log.c.started_at, sync_log.c.completed_at)
        query = query.where(sync_log.c.status == SyncStatus.SUCCESS.value)
        found: dict[str, list[tuple[datetime, datetime]]] = {}
        with self.app.state.engine.connect() as conn:
            for plan, started, completed in conn.execute(query):
                found.setdefault(plan, []).append((started, completed))
        return found

    def assert_store_equals_fresh_export(self) -> None:
        """The store holds exactly what a fresh full export of the database would write,
        ignoring `version`, `generated_at` and the `?v=` of links (they follow versions)."""
        fresh_root = Path(tempfile.mkdtemp(prefix="fresh-", dir=self.root))
        fresh = build_app(
            load_settings(
                database_url=self.database_url,
                state_database_url=f"sqlite:///{fresh_root / 'state.db'}",
                store=f"file://{fresh_root / 'cdn'}",
            ),
            clock=self.clock,
        )
        try:
            fresh.state.create_schema()
            for plan in fresh.source.plan_names():
                fresh.publisher.publish(plan)
            expected = _normalised(fresh.store)
        finally:
            fresh.close()
        actual = _normalised(self.store)
        assert sorted(actual) == sorted(expected), "the store holds other files than a fresh export"
        for key, document in expected.items():
            assert actual[key] == document, f"{key} differs from a fresh export"


def _normalised(store: Any) -> dict[str, Any]:
    documents = {}
    for key in store.list_keys():
        document = json.loads(store.get(key))
        document.pop("version", None)
        document.pop("generated_at", None)
        documents[key] = json.loads(_VERSIONED.sub("?v=*", json.dumps(document)))
    return documents
