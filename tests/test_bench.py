"""The benchmark suite (bench/bench.py) end to end at its tiny size: it runs and writes every
row. Its timings are reported, never asserted; the exact counts are."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

ROWS = {
    "export_sqlite_s",
    "bound_s",
    "export_bound_ratio",
    "export_mariadb_s",
    "mariadb_sqlite_ratio",
    "statements_per_plan",
    "no_change_s",
    "no_change_files",
    "files_per_stage_edit",
    "files_per_title_edit",
    "edit_to_live_s",
    "rss_1_plans_mb",
    "rss_3_plans_mb",
    "rss_growth",
    "help_s",
    "s3_direct_16_files_s",
    "s3_1_files_s",
    "s3_1_ratio",
    "s3_16_files_s",
    "s3_16_ratio",
    "s3_64_files_s",
    "s3_64_ratio",
}


@pytest.mark.slow
@pytest.mark.mariadb
def test_the_tiny_benchmark_writes_every_row_as_a_number_with_the_exact_edit_counts(
    tmp_path: Path, mariadb_server: Any
) -> None:
    results = tmp_path / "results"
    command = [sys.executable, str(ROOT / "bench" / "bench.py"), "--size", "tiny"]
    command += ["--results-dir", str(results), "--workdir", str(tmp_path)]
    command += ["--mariadb-url", mariadb_server.service.url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    latest = json.loads((results / "latest.json").read_text())
    stamped = list(results.glob("*-tiny.json"))
    assert len(stamped) == 1
    assert json.loads(stamped[0].read_text()) == latest
    rows = {row["key"]: row for row in latest["rows"]}
    assert set(rows) == ROWS
    for key, row in rows.items():
        value = row["value"]
        assert isinstance(value, int | float), key
        assert not isinstance(value, bool), key
        assert math.isfinite(value), key
        assert value >= 0, key
        assert row["met"] in (True, False, None), key
        assert (row["met"] is None) == (row["target"] == ""), key
        assert row["label"] in done.stdout, key

    # The README's exact counts (tiny plans are not sharded): a stage edit rewrites 5 files
    # of each plan showing the lesson, a title edit 7; a re-run with no change writes none.
    assert (rows["files_per_stage_edit"]["value"], rows["files_per_stage_edit"]["met"]) == (5, True)
    assert (rows["files_per_title_edit"]["value"], rows["files_per_title_edit"]["met"]) == (7, True)
    assert "2 plans" in rows["files_per_stage_edit"]["note"]
    assert rows["no_change_files"]["value"] == 0
    assert latest["catalogue"]["shared_by"] == 2
    assert latest["size"]["plans"] == 3

    machine = latest["machine"]
    assert isinstance(machine["cpu_count"], int)
    assert machine["cpu_count"] >= 1
    assert machine["cpu_model"]
    assert machine["python"] == sys.version.split()[0]
