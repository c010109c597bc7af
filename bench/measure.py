"""The measurements of the benchmark suite (bench/bench.py): each returns plain numbers."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from catalogue import CatalogueShape, build_catalogue, count_statements, create_content_schema
from memora_cdn.app import BUILD_PROCESSES, App, build_app
from memora_cdn.core.documents import dumps, sha256_hex
from memora_cdn.core.model import Trigger
from memora_cdn.operations import every_plan
from memora_cdn.settings import Settings
from memora_cdn.source.schema import content_metadata
from memora_cdn.store import local

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("memora-cdn")
SHARD_THRESHOLD = Settings().shard_threshold
DURABILITY_MODES = ("file", "batch", "none")
"""`file`: fsync every file before its rename (the folder store today); `batch`: temp + rename,
one sync per plan; `none`: temp + rename only."""
STORE_DURABILITY: str = getattr(local, "DURABILITY", "file")
"""The folder store's durability, if the store module declares it (`DURABILITY`)."""


@dataclass(frozen=True, slots=True)
class Size:
    """A catalogue size: `lessons` per plan, `subjects` in all, each shown by `share` plans."""

    plans: int
    lessons: int
    subjects: int
    share: int
    stages: tuple[int, int] = (3, 5)
    seed: int = 20261202

    @property
    def subjects_per_plan(self) -> int:
        return self.subjects * self.share // self.plans

    @property
    def units_per_track(self) -> int:
        """Two tracks, five topics per unit, five lessons per topic: 50 lessons per unit pair."""
        return max(1, round(self.lessons / (self.subjects_per_plan * 2 * 5 * 5)))


PRESETS = {
    "tiny": Size(plans=3, lessons=100, subjects=3, share=2),
    "medium": Size(plans=12, lessons=800, subjects=24, share=4),
    "xl": Size(plans=30, lessons=2000, subjects=60, share=4),
}


def generate(engine: sa.Engine, size: Size) -> CatalogueShape:
    """The catalogue of `size` (plus one draft plan), with the project's generator."""
    create_content_schema(engine)
    return build_catalogue(
        engine,
        plans=size.plans,
        subjects=size.subjects_per_plan,
        tracks=2,
        units=size.units_per_track,
        topics=5,
        lessons=5,
        stages=size.stages,
        shared_by=size.share,
        seed=size.seed,
        draft_plans=1,
        unpublished=0.03,
    )


# -- the command line, in subprocesses --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CliRun:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str


def cli_env(database_url: str, store: Path, state_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")}
    env |= {"MEMORA_CDN_DATABASE_URL": database_url, "MEMORA_CDN_STORE": f"file://{store}"}
    if state_url is not None:
        env["MEMORA_CDN_STATE_DATABASE_URL"] = state_url
    return env


_SPAWN = """
import json, os, resource, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status = os.waitpid(pid, 0)
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), seconds, usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss], out)
"""
"""Runs a command as its child and writes its exit code, wall time, CPU time and peak RSS.

A child's peak RSS counts the memory of the process that forked it (Linux keeps the larger
of the two across `exec`): forked from this small process, not from the benchmark's."""


def run_cli(args: Sequence[str], env: dict[str, str] | None = None) -> CliRun:
    """`memora-cdn ARGS` in a subprocess: its wall time, CPU time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        usage, log = Path(tmp) / "usage.json", Path(tmp) / "output"
        with log.open("wb") as out:
            command = [sys.executable, "-c", _SPAWN, str(usage), str(CLI), *args]
            subprocess.run(command, env=env, stdout=out, stderr=out, check=True)
        code, seconds, cpu, peak_kb = json.loads(usage.read_text())
        output = log.read_text(errors="replace")
    if code:
        raise RuntimeError(f"memora-cdn {' '.join(args)} exited {code}: {output}")
    return CliRun(seconds, cpu, peak_kb / 1024, output)


def help_wall(runs: int = 10) -> float:
    """Median wall time of `memora-cdn --help`."""
    return statistics.median(run_cli(["--help"]).seconds for _ in range(runs))


# -- in-process builds ------------------------------------------------------------------------


@contextmanager
def application(database_url: str, store: Path, state_url: str | None = None) -> Iterator[App]:
    settings = Settings(
        database_url=database_url, state_database_url=state_url, store=f"file://{store}"
    )
    app = build_app(settings)
    try:
        app.prepare()
        yield app
    finally:
        app.close()


@dataclass(frozen=True, slots=True)
class Sync:
    seconds: float
    files: dict[str, int]
    """Files uploaded, per plan built."""
    lessons: dict[str, int]


def sync(app: App, plans: Sequence[str] | None = None) -> Sync:
    """What `memora-cdn sync` does: build the queue (after queueing `plans`, if given)."""
    started = time.perf_counter()
    if plans is not None:
        app.intake.queue_plans(plans, trigger=Trigger.MANUAL)
    report = app.processor(processes=BUILD_PROCESSES).run(Trigger.MANUAL)
    seconds = time.perf_counter() - started
    if report.failed:
        raise RuntimeError(f"build failed: {[(o.plan, o.error) for o in report.failed]}")
    results = [o.result for o in report.succeeded if o.result is not None]
    return Sync(
        seconds,
        {r.plan: r.counts.files_uploaded for r in results if not r.removed},
        {r.plan: r.lessons for r in results if not r.removed},
    )


def statements_per_build(database_url: str, plans: Sequence[str], work: Path) -> tuple[int, int]:
    """SQL statements of a plan build (queue claim, snapshot, index, log): the first build of
    a process, which also reflects the content tables once, and the next plan's build."""
    work.mkdir(parents=True, exist_ok=True)
    counts: list[int] = []
    with application(database_url, work / "store", f"sqlite:///{work / 'state.db'}") as app:
        for plan in plans[:2]:
            app.intake.queue_plans([plan], trigger=Trigger.MANUAL)
            engines = {id(e): e for e in (app.source.engine, app.state.engine)}.values()
            with ExitStack() as stack:
                counted = [stack.enter_context(count_statements(e)) for e in engines]
                sync(app)
            counts.append(sum(len(statements) for statements in counted))
    return counts[0], counts[-1]


def no_change(app: App) -> Sync:
    return sync(app, every_plan(app))


@dataclass(frozen=True, slots=True)
class Edit:
    seconds: float
    files: dict[str, int]
    expected_per_plan: int
    live: bool


def edit_stage(app: App, lesson: str, token: str) -> Edit:
    """Edit a stage's config, then notify and sync until the plans showing it are live."""
    stages = content_metadata().tables["tabMemora Lesson Stage"]
    name = f"{lesson}-stages-1"
    config = orjson.dumps({"body": f"edited {token}"}).decode()
    with app.source.engine.begin() as conn:
        conn.execute(sa.update(stages).where(stages.c.name == name).values(config=config))
    started = time.perf_counter()
    app.intake.notify("Memora Lesson Stage", name)
    result = sync(app)
    seconds = time.perf_counter() - started
    return Edit(seconds, result.files, _expected(result, 5), _live(app, result, lesson, token))


def edit_title(app: App, lesson: str, token: str) -> Edit:
    """Rename a lesson (in the middle of its unit: both neighbours name it)."""
    lessons = content_metadata().tables["tabMemora Lesson"]
    with app.source.engine.begin() as conn:
        conn.execute(sa.update(lessons).where(lessons.c.name == lesson).values(title=token))
    started = time.perf_counter()
    app.intake.notify("Memora Lesson", lesson)
    result = sync(app)
    seconds = time.perf_counter() - started
    return Edit(seconds, result.files, _expected(result, 7), _live(app, result, lesson, token))


def _expected(result: Sync, unsharded: int) -> int:
    """The README's exact count: one more file per plan whose search index is sharded."""
    sharded = {lessons > SHARD_THRESHOLD for lessons in result.lessons.values()}
    return unsharded + 1 if sharded == {True} else unsharded


def _live(app: App, result: Sync, lesson: str, token: str) -> bool:
    keys = [f"plans/{plan}/lessons/{lesson}.json" for plan in result.files]
    return bool(keys) and all(token.encode() in (app.store.get(key) or b"") for key in keys)


# -- the bound ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bound:
    seconds: float
    files: int
    bytes: int
    same_bytes: bool


def bound(store: Path, target: Path, durability: str, threads: int) -> Bound:
    """JSON encode + SHA-256 + atomic write (temp + rename, with `durability`) of every file a
    store holds, plan by plan: the floor for writing those bytes."""
    groups: dict[str, list[tuple[Path, object]]] = defaultdict(list)
    originals: dict[Path, bytes] = {}
    for path in sorted(p for p in store.rglob("*") if p.is_file() and p.suffix == ".json"):
        key = path.relative_to(store)
        body = path.read_bytes()
        originals[key] = body
        groups[key.parts[1] if key.parts[0] == "plans" else ""].append((key, orjson.loads(body)))
    shutil.rmtree(target, ignore_errors=True)
    folders: set[Path] = set()
    written: dict[Path, bytes] = {}

    def write(key: Path, value: object) -> None:
        body = dumps(value)
        if body != originals[key]:  # the JSON Schemas are published indented
            body = originals[key]
        sha256_hex(body)
        path = target / key
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        temp = path.with_name(f".tmp-{path.name}.part")
        with open(temp, "wb") as handle:
            handle.write(body)
            if durability == "file":
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, path)
        written[key] = body

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for items in groups.values():
            list(pool.map(lambda item: write(*item), items))
            if durability == "batch":
                local.FileStore(target).sync()
    seconds = time.perf_counter() - started
    return Bound(seconds, len(written), sum(map(len, written.values())), written == originals)


def tree_size(store: Path) -> tuple[int, int]:
    files = [p for p in store.rglob("*") if p.is_file() and p.suffix == ".json"]
    return len(files), sum(p.stat().st_size for p in files)


# -- the machine --------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }
