"""Issue 7's acceptance machine: edits, bad values, builds killed at a random upload, store
swaps and wipes, and `verify --repair`, in any order. After every step (the queue drained, as
the worker would), the store equals a fresh export into an empty store, and nothing that is
unpublished or hidden is readable anywhere in it (no key, no id in any file, no leftover part
file of a killed build)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from memora_cdn.app import build_app
from memora_cdn.core.events import Action
from memora_cdn.core.model import Doctype, Trigger
from memora_cdn.settings import load_settings
from memora_cdn.source.schema import content_metadata
from memora_cdn.store.verify import verify
from sitekit import Site

pytestmark = pytest.mark.slow

CONTENT = content_metadata()
PLANS = ("PX", "PY", "PZ")
LESSONS = (*(f"les-{u}{n}" for u in "ab" for n in (1, 2, 3)), "les-z1", "les-z2")
UNITS = ("unit-a", "unit-b", "unit-z")
LEASE = 60

# Junk a careless import or a hostile editor can leave in a column (SQLite keeps any type).
JUNK = st.one_of(
    st.none(),
    # Integers as wide as a database column holds (64 bits); wider ones only as text, since no
    # driver can write them as numbers.
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=2**63, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", ".", "..", "yes", "heavy", "{", "[1,", "NaN"]),
    st.binary(max_size=8),
    # Text that is not UTF-8: a lone surrogate (as MariaDB's utf8 or a C client may leave it)
    # and a stray byte. No Python driver writes such text, so it is cast from bytes.
    st.sampled_from([b"ab\xed\xa0\x80", b"\xff"]).map(
        lambda raw: sa.cast(sa.literal(raw, sa.LargeBinary), sa.Text)
    ),
)
JUNK_CONFIG = st.sampled_from(
    [
        '{"n": 18446744073709551616}',
        '{"x": NaN}',
        '{"x": Infinity}',
        "[" * 70 + "]" * 70,
        '{"s": "\\ud800"}',
        "not json",
        "[1, 2]",
        '{"ok": true}',
    ]
)
# (doctype, row names, columns) where junk goes; stage rows are named `<lesson>-S1`.
TARGETS: tuple[tuple[Doctype, tuple[str, ...], tuple[str, ...]], ...] = (
    (Doctype.LESSON_STAGE, tuple(f"{n}-S1" for n in LESSONS), ("weight", "target_time", "title")),
    (Doctype.LESSON, LESSONS, ("is_published", "is_free_preview", "sort_order", "title")),
    (Doctype.UNIT, UNITS, ("is_published", "is_free_preview", "sort_order", "is_linear", "image")),
    (Doctype.SUBJECT, ("subj-a", "subj-z"), ("is_public", "color_code", "sort_order")),
)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="memora-stateful-"))
        self.stores = [self.tmp / "cdn-0"]
        self.site: Site | None = None

    # -- set-up ----------------------------------------------------------------------------

    @initialize()
    def catalogue(self) -> None:
        site = self.site = Site(self.tmp, store=f"file://{self.stores[0]}", lock_ttl_seconds=LEASE)
        b = site.build
        b.plan("PX", title="Plan X", subjects=["subj-a"])
        b.plan("PY", title="Plan Y", subjects=["subj-a", "subj-z"])
        b.plan("PZ", title="Plan Z", subjects=["subj-z"])
        b.override("PY", "Memora Unit", "unit-b", "Hide")
        b.subject("subj-a", title="Algebra", is_public=True)
        b.subject("subj-z", title="Zoology", required_item="ITEM-Z")
        b.track("trk-a", "subj-a")
        b.track("trk-z", "subj-z")
        for unit, track in (("unit-a", "trk-a"), ("unit-b", "trk-a"), ("unit-z", "trk-z")):
            b.unit(unit, track)
            b.topic(f"top-{unit[-1]}", unit)
        for lesson in LESSONS:
            b.lesson(lesson, f"top-{lesson[4]}", title=f"Lesson {lesson}")
            b.stage(lesson, name=f"{lesson}-S1", type="Video", config={"video_url": "v.mp4"})
        site.queue_all()
        self.drain()

    def teardown(self) -> None:
        if self.site is not None:
            self.site.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------

    @property
    def s(self) -> Site:
        assert self.site is not None
        return self.site

    def edit(self, doctype: Doctype, name: str, **values: object) -> None:
        self.s.update(doctype, name, **values)
        self.s.notify(doctype, name, Action.UPDATE)

    def drain(self) -> None:
        """Build until nothing is due, waiting out leases and retries as the worker would."""
        for _ in range(12):
            stats = self.s.app.queue.stats(self.s.clock.datetime())
            if not (stats.pending or stats.processing or stats.retrying):
                break
            self.s.batch()
            self.s.clock.advance(LEASE + 300)
        stats = self.s.app.queue.stats(self.s.clock.datetime())
        assert stats.dead_letter == 0, self.s.app.queue.dead_letters()
        assert (stats.pending, stats.processing, stats.retrying) == (0, 0, 0), stats

    def reopen(self, store: Path) -> None:
        """Point the site at another store (the operator changed `store` and restarted)."""
        site = self.s
        site.app.close()
        site.settings = load_settings(
            database_url=site.database_url,
            state_database_url=site.settings.state_url,
            store=f"file://{store}",
            lock_ttl_seconds=LEASE,
        )
        site.app = build_app(site.settings, clock=site.clock)
        site.engine = site.app.source.engine

    # -- rules -----------------------------------------------------------------------------

    @rule(lesson=st.sampled_from(LESSONS), title=st.text(min_size=1, max_size=20))
    def retitle_lesson(self, lesson: str, title: str) -> None:
        self.edit(Doctype.LESSON, lesson, title=title)
        self.drain()

    @rule(
        node=st.sampled_from(
            [(Doctype.LESSON, n) for n in LESSONS]
            + [(Doctype.UNIT, n) for n in UNITS]
            + [(Doctype.SUBJECT, "subj-a"), (Doctype.PLAN, "PZ")]
        ),
        published=st.booleans(),
    )
    def publish_or_unpublish(self, node: tuple[Doctype, str], published: bool) -> None:
        self.edit(node[0], node[1], is_published=int(published))
        self.drain()

    @rule(action=st.sampled_from(["Hide", "Rename", "Set Free"]))
    def change_the_override(self, action: str) -> None:
        table = CONTENT.tables[Doctype.PLAN_OVERRIDE.table]
        with self.s.engine.begin() as conn:
            conn.execute(
                sa.update(table)
                .where(table.c.parent == "PY")
                .values(action=action, override_value="Renamed", modified=self.s.clock.datetime())
            )
        self.s.notify(Doctype.PLAN, "PY", Action.UPDATE)
        self.drain()

    @rule(data=st.data())
    def junk_in_a_column(self, data: st.DataObject) -> None:
        doctype, names, columns = data.draw(st.sampled_from(TARGETS))
        name = data.draw(st.sampled_from(names))
        column = data.draw(st.sampled_from(columns))
        value = data.draw(JUNK)
        # Through a table without column types, so the value is stored as it is.
        table = sa.table(doctype.table, sa.column("name"), sa.column(column))
        with self.s.engine.begin() as conn:
            conn.execute(sa.update(table).where(table.c.name == name).values({column: value}))
        self.s.notify(doctype, name, Action.UPDATE)
        self.drain()

    @rule(lesson=st.sampled_from(LESSONS), config=JUNK_CONFIG)
    def junk_stage_config(self, lesson: str, config: str) -> None:
        self.edit(Doctype.LESSON_STAGE, f"{lesson}-S1", config=config)
        self.drain()

    @rule(lesson=st.sampled_from(LESSONS), at_upload=st.integers(min_value=1, max_value=6))
    def build_killed_at_an_upload(self, lesson: str, at_upload: int) -> None:
        """An edit whose build is killed (SIGKILL, no clean-up) as its n-th upload starts;
        the lease runs out and the next batch finishes the work."""
        self.s.update(Doctype.LESSON, lesson, title=f"Killed edit {at_upload}")
        self.s.notify(Doctype.LESSON, lesson)
        run_killable_batch(self.s, at_upload)
        self.s.clock.advance(LEASE + 1)
        self.drain()

    @rule(index=st.integers(min_value=0, max_value=2))
    def swap_store(self, index: int) -> None:
        """The operator points `store` at another folder (new, or one used before), then
        runs `sync --all`."""
        while len(self.stores) <= index:
            self.stores.append(self.tmp / f"cdn-{len(self.stores)}")
        self.reopen(self.stores[index])
        self.s.queue_all()
        self.drain()

    @rule()
    def wipe_the_store_then_repair(self) -> None:
        """Someone empties the store folder; `verify --repair --yes` puts everything back."""
        root = self.s.store.root
        shutil.rmtree(root, ignore_errors=True)
        self.repair()

    @rule()
    def verify_repair(self) -> None:
        self.repair()

    def repair(self) -> None:
        report = verify(self.s.app.store, self.s.app.state, repair=True, yes=True)
        if report.plans_to_rebuild:
            self.s.app.intake.queue_plans(list(report.plans_to_rebuild), trigger=Trigger.MANUAL)
        self.drain()

    # -- invariants ------------------------------------------------------------------------

    @precondition(lambda self: self.site is not None)
    @invariant()
    def store_equals_a_fresh_export(self) -> None:
        self.s.assert_store_equals_fresh_export()

    @precondition(lambda self: self.site is not None)
    @invariant()
    def nothing_hidden_is_readable(self) -> None:
        root = self.s.store.root
        files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
        leftovers = [p for p in files if p.name.startswith(".tmp-")]
        assert not leftovers, f"part files of a killed build are readable: {leftovers}"
        for plan in PLANS:
            hidden = hidden_nodes(self.s, plan)
            for path in files:
                rel = path.relative_to(root).as_posix()
                if not rel.startswith(f"plans/{plan}/"):
                    continue
                assert not any(f"/{n}.json" in rel for n in hidden), f"{rel} is hidden"
                seen = ids_in(json.loads(path.read_bytes()))
                assert not seen & hidden, f"{rel} shows hidden nodes {seen & hidden}"


def run_killable_batch(site: Site, at_upload: int) -> None:
    """Run one batch in a forked process that SIGKILLs itself as its n-th upload starts."""
    site.app.source.engine.dispose()
    site.app.state.engine.dispose()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            child = build_app(site.settings, clock=site.clock)
            count = [0]
            real_replace = os.replace

            def replace(source: Any, target: Any) -> None:
                # The folder store writes a temporary part file, then renames it into place:
                # killed in between, the part file stays behind.
                count[0] += 1
                if count[0] == at_upload:
                    os.kill(os.getpid(), signal.SIGKILL)
                real_replace(source, target)

            os.replace = replace
            child.processor().run(Trigger.SCHEDULER)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) or os.WTERMSIG(status) == signal.SIGKILL, status


def ids_in(document: Any) -> set[str]:
    """Every node id a document names (ids of lists, parents, navigation and search)."""
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            if (key == "id" or key.endswith("_id")) and isinstance(value, str):
                found.add(value)
            else:
                found |= ids_in(value)
    elif isinstance(document, list):
        for item in document:
            found |= ids_in(item)
    return found


def hidden_nodes(site: Site, plan: str) -> set[str]:
    """Nodes a plan must not show, read straight from the tables (independently of the
    loader): unpublished (anything but the integer 1), hidden by the plan's `Hide`
    override, or under such a node."""
    rows: dict[str, tuple[str | None, bool]] = {}
    parents = {
        Doctype.SUBJECT: None,
        Doctype.TRACK: "parent_subject",
        Doctype.UNIT: "parent_track",
        Doctype.TOPIC: "parent_unit",
        Doctype.LESSON: "parent_topic",
    }
    overrides = sa.table(
        Doctype.PLAN_OVERRIDE.table,
        sa.column("parent"),
        sa.column("action"),
        sa.column("target_name"),
    )
    # A connection of its own, reading text as stored: junk that is not UTF-8 must not stop
    # the check, and the site's own connections keep their settings.
    engine = sa.create_engine(site.database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            raw.text_factory = lambda data: data.decode("utf-8", "surrogateescape")
            hide = set(
                conn.execute(
                    sa.select(overrides.c.target_name).where(
                        overrides.c.parent == plan, overrides.c.action == "Hide"
                    )
                ).scalars()
            )
            for doctype, parent_column in parents.items():
                columns = ["name", "is_published", *([parent_column] if parent_column else [])]
                table = sa.table(doctype.table, *(sa.column(c) for c in columns))
                parent = table.c[parent_column] if parent_column else sa.null()
                for name, up, published in conn.execute(
                    sa.select(table.c.name, parent, table.c.is_published)
                ):
                    shown = type(published) is int and published == 1 and name not in hide
                    rows[name] = (up, not shown)
    finally:
        engine.dispose()

    def hidden(name: str, depth: int = 0) -> bool:
        up, own = rows.get(name, (None, True))
        return own or (up is not None and depth < 10 and hidden(up, depth + 1))

    return {name for name in rows if hidden(name)}


TestStore = StoreMachine.TestCase
TestStore.settings = settings(
    max_examples=int(os.environ.get("MEMORA_CDN_STATEFUL_EXAMPLES", "12")),
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
