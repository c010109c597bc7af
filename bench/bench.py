#!/usr/bin/env python3
"""The benchmark suite: one table of the performance goals, each with its target, met or missed.

    python3 dev.py bench [--size tiny|medium|xl] [--plans N --lessons N ...] [--no-s3]

Generates a seeded catalogue with the project's generator (`tests/catalogue.py`), publishes it
to a folder with `memora-cdn sync --all` (SQLite, and MariaDB when reachable), measures the
bound for the same bytes, the edits, the no-change re-run, peak RSS, `--help`, and uploads to
an S3 server behind a 30 ms proxy; prints the table and writes it as JSON under bench/results/
(a timestamped file and latest.json). Benchmarks, not tests: nothing here fails on a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import measure
import sqlalchemy as sa
from measure import PRESETS, ROOT, Size
from s3latency import s3_server, upload_plan

from memora_cdn.database import make_engine

DEFAULT_MARIADB = "mysql+pymysql://root@127.0.0.1:3306/memora_bench"


@dataclass(frozen=True, slots=True)
class Row:
    group: str
    key: str
    label: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    """None: a figure with no target of its own."""
    note: str = ""


def options() -> tuple[argparse.Namespace, Size]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(PRESETS), default="medium", help="a preset")
    parser.add_argument("--plans", type=int, help="published plans")
    parser.add_argument("--lessons", type=int, help="lessons per plan (about)")
    parser.add_argument("--subjects", type=int, help="subjects in all, shared between plans")
    parser.add_argument("--share", type=int, help="plans that show each subject")
    parser.add_argument("--stages", help="stages per lesson, e.g. 3-5")
    parser.add_argument("--seed", type=int, help="the generator's seed")
    parser.add_argument("--workdir", type=Path, help="where the databases and stores go")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--mariadb-url", default=DEFAULT_MARIADB, help="server and db name prefix")
    parser.add_argument("--no-mariadb", action="store_true")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 latency rows")
    parser.add_argument("--s3-delay-ms", type=float, default=30.0)
    parser.add_argument(
        "--durability",
        choices=measure.DURABILITY_MODES,
        default=measure.STORE_DURABILITY,
        help="the bound's durability (default: the folder store's, %(default)s)",
    )
    args = parser.parse_args()
    size = size_of(args)
    per_plan, spare = divmod(size.subjects * size.share, size.plans)
    if spare or not 1 <= per_plan <= size.subjects or size.share > size.plans:
        parser.error(
            f"{size.subjects} subjects each shown by {size.share} of {size.plans} plans do not "
            "give every plan the same number of subjects"
        )
    return args, size


def size_of(args: argparse.Namespace) -> Size:
    size = PRESETS[args.size]
    for name in ("plans", "lessons", "subjects", "share", "seed"):
        if getattr(args, name) is not None:
            size = replace(size, **{name: getattr(args, name)})
    if args.stages:
        low, _, high = args.stages.partition("-")
        size = replace(size, stages=(int(low), int(high or low)))
    return size


def main() -> None:
    args, size = options()
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="memora-bench-", dir=args.workdir))
    try:
        rows, facts = run(args, size, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "generated_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "size": {"preset": args.size, **asdict(size)},
        "catalogue": facts,
        "machine": measure.machine(),
        "rows": [asdict(row) for row in rows],
    }
    print(table(rows))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (args.results_dir / f"{stamp}-{args.size}.json").write_text(text)
    (args.results_dir / "latest.json").write_text(text)
    print(f"\nwritten: {args.results_dir / f'{stamp}-{args.size}.json'} (and latest.json)")


def run(args: argparse.Namespace, size: Size, work: Path) -> tuple[list[Row], dict[str, object]]:
    rows: list[Row] = []
    site = f"sqlite:///{work / 'site.db'}"
    engine = make_engine(site)
    shape = measure.generate(engine, size)
    engine.dispose()
    plans = list(shape.plans)
    shared = max(shape.subject_plans, key=lambda s: len(shape.subject_plans[s]))
    lesson = f"{shared}-T1-U1-TP1-L3"
    print(f"catalogue: {len(plans)} plans, {shape.rows:,} rows; exporting…", flush=True)

    store = work / "store"
    export = measure.run_cli(["sync", "--all"], measure.cli_env(site, store))
    files, total = measure.tree_size(store)
    facts: dict[str, object] = {
        "rows": shape.rows,
        "nodes_per_plan": {k.value: v for k, v in shape.nodes_per_plan.items()},
        "shared_subject": shared,
        "shared_by": len(shape.subject_plans[shared]),
        "files": files,
        "bytes": total,
        "bound_durability": args.durability,
    }

    threads = 16 if args.durability == "file" else 1
    floor = measure.bound(store, work / "bound", args.durability, threads)
    ratio = export.seconds / floor.seconds
    rows += [
        Row(
            "export",
            "export_sqlite_s",
            "full export, SQLite (sync --all)",
            export.seconds,
            "s",
            note=f"{files} files, {total:,} bytes; CPU {export.cpu_seconds:.1f} s",
        ),
        Row(
            "export",
            "bound_s",
            f"bound: encode + SHA-256 + atomic write ({args.durability}), same bytes",
            floor.seconds,
            "s",
            note=f"{floor.files} files, {floor.bytes:,} bytes, identical: {floor.same_bytes}",
        ),
        Row("export", "export_bound_ratio", "export ÷ bound", ratio, "×", "≤ 2", ratio <= 2),
    ]
    mariadb = None if args.no_mariadb else export_mariadb(args.mariadb_url, size, work)
    if mariadb is not None:
        over = mariadb.seconds / export.seconds
        rows += [
            Row(
                "export",
                "export_mariadb_s",
                "full export, MariaDB (sync --all)",
                mariadb.seconds,
                "s",
                note=f"CPU {mariadb.cpu_seconds:.1f} s (the server's not counted)",
            ),
            Row(
                "export",
                "mariadb_sqlite_ratio",
                "MariaDB ÷ SQLite",
                over,
                "×",
                "≤ 1.3",
                over <= 1.3,
            ),
        ]
    first, statements = measure.statements_per_build(site, plans, work / "statements")
    rows.append(
        Row(
            "build",
            "statements_per_plan",
            "SQL statements per plan build",
            statements,
            "",
            "≤ 50",
            statements <= 50,
            f"the first build of a process: {first} (it also reads the tables' columns once)",
        )
    )
    rows += edits(site, store, lesson)
    rows += rss(site, plans, work)
    help_s = measure.help_wall()
    rows.append(
        Row("cli", "help_s", "memora-cdn --help, median of 10", help_s, "s", "≤ 0.3", help_s <= 0.3)
    )
    if not args.no_s3:
        rows += s3_rows(site, plans[-1], work, args.s3_delay_ms)
    return rows, facts


def export_mariadb(url: str, size: Size, work: Path) -> measure.CliRun | None:
    """A full export with content and state in a fresh MariaDB database (None: unreachable)."""
    server = sa.make_url(url)
    name = f"{server.database or 'memora_bench'}_{os.getpid()}_{int(time.time())}"
    admin = sa.create_engine(
        server.set(database=""), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    except sa.exc.OperationalError as error:
        print(f"MariaDB not reachable at {server.host}:{server.port}: {error.orig}; skipped")
        admin.dispose()
        return None
    try:
        database = server.set(database=name).update_query_dict({"charset": "utf8mb4"})
        database_url = database.render_as_string(hide_password=False)
        engine = make_engine(database_url)
        measure.generate(engine, size)
        engine.dispose()
        print("MariaDB: exporting…", flush=True)
        return measure.run_cli(
            ["sync", "--all"], measure.cli_env(database_url, work / "store-mariadb")
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


def edits(site: str, store: Path, lesson: str) -> list[Row]:
    rows = []
    with measure.application(site, store) as app:
        again = measure.no_change(app)
        uploaded = sum(again.files.values())
        rows += [
            Row(
                "edits",
                "no_change_s",
                "no-change re-run (sync --all, in process)",
                again.seconds,
                "s",
            ),
            Row(
                "edits",
                "no_change_files",
                "files written by the no-change re-run",
                uploaded,
                "",
                "0",
                uploaded == 0,
            ),
        ]
        stage = measure.edit_stage(app, lesson, f"stage-{time.time_ns()}")
        title = measure.edit_title(app, lesson, f"Renamed {time.time_ns()}")
    for edit, what, key in ((stage, "stage", "stage_edit"), (title, "title", "title_edit")):
        counts = sorted(set(edit.files.values()))
        per_plan = counts[0] if len(counts) == 1 else max(counts, default=0)
        exact = counts == [edit.expected_per_plan] and edit.live
        rows.append(
            Row(
                "edits",
                f"files_per_{key}",
                f"files written per {what} edit, per plan",
                per_plan,
                "",
                f"= {edit.expected_per_plan}",
                exact,
                note=f"{len(edit.files)} plans, {sum(edit.files.values())} files, live {edit.live}",
            )
        )
    shared = len(stage.files)
    rows.append(
        Row(
            "edits",
            "edit_to_live_s",
            f"edit-to-live, stage edit in a subject of {shared} plans",
            stage.seconds,
            "s",
            "≤ 2",
            stage.seconds <= 2 and stage.live,
        )
    )
    return rows


def rss(site: str, plans: list[str], work: Path) -> list[Row]:
    """Peak RSS of `memora-cdn rebuild` of a third of the plans, then of all of them."""
    rows = []
    peaks = []
    for count in (max(1, len(plans) // 3), len(plans)):
        state = f"sqlite:///{work / f'rss-{count}.db'}"
        measure.run_cli(["init"], measure.cli_env(site, work / f"rss-{count}", state))
        run = measure.run_cli(
            ["rebuild", *plans[:count]], measure.cli_env(site, work / f"rss-{count}", state)
        )
        peaks.append(run.peak_rss_mb)
        rows.append(
            Row(
                "memory",
                f"rss_{count}_plans_mb",
                f"peak RSS, rebuild of {count} plans",
                run.peak_rss_mb,
                "MB",
            )
        )
    growth = peaks[1] / peaks[0]
    rows.append(
        Row(
            "memory",
            "rss_growth",
            "RSS growth, all plans ÷ a third",
            growth,
            "×",
            "≤ 1.1 (flat)",
            growth <= 1.1,
        )
    )
    return rows


def s3_rows(site: str, plan: str, work: Path, delay_ms: float) -> list[Row]:
    rows = []
    with s3_server(delay_ms) as (direct, delayed):
        baseline = upload_plan(site, plan, direct, direct, 16, work, delay_ms)
        rows.append(
            Row(
                "s3",
                "s3_direct_16_files_s",
                "S3 upload, no added latency, concurrency 16",
                baseline.files_per_second,
                "files/s",
                note=f"{baseline.files} files",
            )
        )
        for concurrency in (1, 16, 64):
            up = upload_plan(site, plan, delayed, direct, concurrency, work, delay_ms)
            target = "" if concurrency == 1 else "≤ 1.5"
            rows.append(
                Row(
                    "s3",
                    f"s3_{concurrency}_files_s",
                    f"S3 upload +{delay_ms:g} ms, concurrency {concurrency}",
                    up.files_per_second,
                    "files/s",
                    note=f"{up.files} files in {up.seconds:.2f} s, bound {up.bound_seconds:.2f} s",
                )
            )
            rows.append(
                Row(
                    "s3",
                    f"s3_{concurrency}_ratio",
                    f"… ÷ latency bound (files × {delay_ms:g} ms ÷ {concurrency})",
                    up.ratio,
                    "×",
                    target,
                    None if concurrency == 1 else up.ratio <= 1.5,
                )
            )
    return rows


def table(rows: list[Row]) -> str:
    lines = [f"{'goal':<62} {'value':>12}  {'target':<14} result", "-" * 98]
    for row in rows:
        value = (
            f"{row.value:,.0f}"
            if float(row.value).is_integer() and row.unit != "×"
            else f"{row.value:,.2f}"
        )
        result = "" if row.met is None else ("met" if row.met else "MISSED")
        lines.append(f"{row.label:<62} {value:>9} {row.unit:<3} {row.target:<14} {result}")
        if row.note:
            lines.append(f"    {row.note}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
