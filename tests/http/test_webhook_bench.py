"""bench/webhook_bench.py still runs: a one-second run accepts events and loses none."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhook_bench.py"


def test_a_one_second_webhook_bench_accepts_events_and_loses_none() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")}
    result = subprocess.run(
        [sys.executable, str(BENCH), "--duration", "1", "--concurrency", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    accepted = re.search(r"^accepted: (\d+) events", result.stdout, re.MULTILINE)
    assert accepted is not None, result.stdout
    assert int(accepted.group(1)) > 0
    assert re.search(rf"^counted accepted: {accepted.group(1)}$", result.stdout, re.MULTILINE)
    assert "\nrejected: 0\n" in result.stdout
    assert "\nlost: 0 plans []\n" in result.stdout
