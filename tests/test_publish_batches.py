"""Recording uploads in batches (SPEC §4 step 4, issue 10): a plan build sends a bounded
number of statements whatever the plan's size, and the index records a batch only once the
store has made it durable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from catalogue import build_catalogue, count_statements, create_content_schema
from defaults import default_publish_options
from memora_cdn.core.documents import Published
from memora_cdn.core.model import NodeKind
from memora_cdn.core.paths import DocKind
from memora_cdn.publish import Publisher
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateRepository
from memora_cdn.store.local import FileStore

STATEMENT_BUDGET = 50
SCALE = 20


def test_a_plan_build_sends_at_most_50_statements_for_a_plan_and_one_twenty_times_larger(
    engine: sa.Engine, tmp_path: Path
) -> None:
    create_content_schema(engine)
    first = build_catalogue(engine, plans=1, prefix="first-")
    small = build_catalogue(engine, plans=1, prefix="small-")
    large = build_catalogue(engine, plans=1, scale=SCALE, prefix="large-")
    state = StateRepository(engine)
    state.create_schema()
    store = FileStore(tmp_path / "cdn")
    publisher = Publisher(SqlSource(engine), state, store, default_publish_options())

    # The first build of a process also reflects the source tables and marks the new store.
    with count_statements(engine) as cold:
        publisher.publish(first.plans[0])
    with count_statements(engine) as small_statements:
        small_result = publisher.publish(small.plans[0])
    with count_statements(engine) as large_statements:
        large_result = publisher.publish(large.plans[0])

    assert len(cold) <= STATEMENT_BUDGET, cold
    assert len(small_statements) <= STATEMENT_BUDGET, small_statements
    assert len(large_statements) <= STATEMENT_BUDGET, large_statements
    # The large plan's search index is sharded: one more upload level, so one more batch.
    assert len(large_statements) <= len(small_statements) + 1

    # Not vacuous: each build uploaded and recorded every file of its plan, and the large
    # plan really is twenty times the small one.
    lessons = small.nodes_per_plan[NodeKind.LESSON]
    assert large.nodes_per_plan[NodeKind.LESSON] == SCALE * lessons
    assert small_result.counts.files_uploaded > lessons
    assert large_result.counts.files_uploaded > SCALE * lessons
    for shape, result in ((small, small_result), (large, large_result)):
        recorded = state.published(store.identity, shape.plans[0])
        assert set(recorded) == set(result.uploaded_keys)
        assert result.counts.files_unchanged == 0


class SyncCountingStore(FileStore):
    """A folder store that knows which of its files were written since its last `sync`."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.unsynced: set[str] = set()
        self.syncs = 0

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        super().put(key, body, content_type=content_type, cache_control=cache_control)
        self.unsynced.add(key)

    def sync(self) -> None:
        super().sync()
        self.unsynced.clear()
        self.syncs += 1


class BatchCheckingState(StateRepository):
    """The state, noting each batch of uploads and checking it is durable in the store."""

    def __init__(self, engine: sa.Engine, store: SyncCountingStore) -> None:
        super().__init__(engine)
        self.store = store
        self.batches: list[list[str]] = []

    def record_uploads(
        self, store: str, plan: str, uploads: Sequence[tuple[str, Published]], at: datetime
    ) -> None:
        keys = [key for key, _ in uploads]
        not_durable = set(keys) & self.store.unsynced
        assert not not_durable, f"recorded before the store synced them: {sorted(not_durable)}"
        self.batches.append(keys)
        super().record_uploads(store, plan, uploads, at)


def test_each_upload_level_is_synced_then_recorded_as_one_batch_children_first(
    engine: sa.Engine, tmp_path: Path
) -> None:
    create_content_schema(engine)
    shape = build_catalogue(engine, plans=1, lessons=30)  # 720 lessons: a sharded index
    store = SyncCountingStore(tmp_path / "cdn")
    state = BatchCheckingState(engine, store)
    state.create_schema()
    publisher = Publisher(
        SqlSource(engine), state, store, default_publish_options(upload_concurrency=4)
    )

    result = publisher.publish(shape.plans[0])

    kinds = [{_kind(key) for key in batch} for batch in state.batches]
    assert kinds == [
        {DocKind.LESSON},
        {DocKind.UNIT},
        {DocKind.SUBJECT},
        {DocKind.SEARCH_SHARD},
        {DocKind.SEARCH_INDEX},
        {DocKind.MANIFEST},
    ]
    assert sorted(key for batch in state.batches for key in batch) == sorted(result.uploaded_keys)
    assert len(state.batches[0]) == shape.nodes_per_plan[NodeKind.LESSON]
    # One sync per batch, one for the marker of the new store, one for the store-wide files.
    assert store.syncs == len(state.batches) + 2
    assert store.unsynced == set()


def _kind(key: str) -> DocKind:
    folder = key.split("/")[2]
    return {
        "lessons": DocKind.LESSON,
        "units": DocKind.UNIT,
        "subjects": DocKind.SUBJECT,
        "search": DocKind.SEARCH_SHARD,
        "search_index.json": DocKind.SEARCH_INDEX,
        "manifest.json": DocKind.MANIFEST,
    }[folder]
