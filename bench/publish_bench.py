#!/usr/bin/env python3
"""Benchmark of the publish path on the embedded default (SQLite + folder store).

Reports exact counts (statements per snapshot, files written) and ratios measured in one run,
not absolute times to compare across machines:

    .venv/bin/python bench/publish_bench.py [--scale 20]

1. statements to load one plan's snapshot at scale 1 and at `--scale` (must be equal);
2. first publish of every plan vs a re-run with no change (files written; time ratio);
3. one stage edit: files rewritten per plan (expected: exactly 5 in each plan with it: the
   lesson, its unit, its subject, the search index and the manifest; none elsewhere).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from catalogue import build_catalogue, count_statements, create_content_schema
from memora_cdn.app import make_engine
from memora_cdn.core.model import NodeKind
from memora_cdn.publish import Publisher, PublishOptions
from memora_cdn.source.schema import content_metadata
from memora_cdn.source.sql import SqlSource
from memora_cdn.state.repo import StateStore
from memora_cdn.store.local import FileStore


class CountingStore(FileStore):
    puts = 0

    def put(self, key: str, body: bytes, *, content_type: str, cache_control: str) -> None:
        self.puts += 1
        super().put(key, body, content_type=content_type, cache_control=cache_control)


def statements_per_snapshot(url: str, scale: int) -> tuple[int, int]:
    engine = sa.create_engine(url)
    create_content_schema(engine)
    shape = build_catalogue(engine, plans=1, scale=scale)
    source = SqlSource(engine)
    source.tables()
    with count_statements(engine) as statements:
        snapshot = source.load(shape.plans[0])
    engine.dispose()
    assert snapshot is not None
    return len(statements), len(snapshot.nodes) + len(snapshot.stages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--s3", action="store_true", help="also publish to a local S3 server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = statements_per_snapshot(f"sqlite:///{tmp}/small.db", 1)
        large = statements_per_snapshot(f"sqlite:///{tmp}/large.db", args.scale)
        print(
            f"snapshot statements: scale 1 → {small[0]} ({small[1]} rows); "
            f"scale {args.scale} → {large[0]} ({large[1]} rows)"
        )

        engine = make_engine(f"sqlite:///{tmp}/site.db")  # as the CLI configures SQLite
        create_content_schema(engine)
        shape = build_catalogue(engine, plans=4, scale=4, lessons=4)
        state = StateStore(engine)
        state.create_schema()
        store = CountingStore(Path(tmp) / "cdn")
        publisher = Publisher(SqlSource(engine), state, store, PublishOptions())
        started = time.perf_counter()
        for plan in shape.plans:
            publisher.publish(plan)
        first, first_puts = time.perf_counter() - started, store.puts
        store.puts = 0
        started = time.perf_counter()
        for plan in shape.plans:
            publisher.publish(plan)
        again, again_puts = time.perf_counter() - started, store.puts
        lessons = shape.nodes_per_plan[NodeKind.LESSON]
        print(
            f"first publish: {len(shape.plans)} plans × {lessons} lessons, {first_puts} files, "
            f"{first:.2f} s"
        )
        print(
            f"no-change re-run: {again_puts} files, {again:.2f} s "
            f"({again / first:.0%} of the first run)"
        )

        stages = content_metadata().tables["tabMemora Lesson Stage"]
        with engine.begin() as conn:
            name = conn.execute(sa.select(stages.c.name).limit(1)).scalar_one()
            conn.execute(sa.update(stages).where(stages.c.name == name).values(config='{"x": 1}'))
        store.puts = 0
        results = [publisher.publish(plan) for plan in shape.plans]
        print(
            "one stage edit: files rewritten per plan "
            + ", ".join(f"{r.plan}={r.counts.files_uploaded}" for r in results)
        )
        engine.dispose()
    if args.s3:
        s3_concurrency()


def s3_concurrency(lessons: int = 400) -> None:
    """First publish of one plan to a local S3 server (moto) at upload_concurrency 1 and 16:
    PUTs counted at the server, and the time ratio of the two in one run."""
    import socket
    import subprocess

    from fakes.s3server import S3FaultProxy, new_bucket, s3_store

    # moto in a process of its own, so the uploads do not share a GIL with the server.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)

    class _Server:
        endpoint = f"http://127.0.0.1:{port}"

    server = _Server()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/site.db")
        create_content_schema(engine)
        shape = build_catalogue(
            engine,
            plans=2,
            subjects=2,
            tracks=2,
            units=2,
            topics=2,
            lessons=lessons // 16,
            stages=1,
        )
        state = StateStore(engine)
        state.create_schema()
        times = {}
        for plan, concurrency in zip(shape.plans, (1, 16), strict=True):
            with S3FaultProxy(server.endpoint) as proxy:
                store = s3_store(proxy.endpoint, new_bucket(server.endpoint))
                publisher = Publisher(
                    SqlSource(engine), state, store, PublishOptions(upload_concurrency=concurrency)
                )
                started = time.perf_counter()
                result = publisher.publish(plan)
                times[concurrency] = time.perf_counter() - started
                print(
                    f"S3, upload_concurrency={concurrency}: {result.counts.files_uploaded} "
                    f"files, {proxy.count('PUT')} PUTs at the server, {times[concurrency]:.2f} s"
                )
        print(f"S3 speed-up 16 vs 1 upload in flight: {times[1] / times[16]:.1f}x")
        engine.dispose()
    moto.terminate()
    moto.wait()


if __name__ == "__main__":
    main()
