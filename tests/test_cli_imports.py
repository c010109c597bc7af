"""What the command line imports: `--help` loads none of the heavy libraries behind the
commands (counted in a fresh interpreter with `-X importtime`, never timed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("boto3", "botocore", "rq", "starlette", "uvicorn", "jsonschema", "fastjsonschema")
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


def imported_modules(*args: str, cwd: Path) -> set[str]:
    """Every module a fresh `memora-cdn ARGS…` imports (its console script, as installed)."""
    script = Path(sys.executable).with_name("memora-cdn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {m.group(1) for line in result.stderr.splitlines() if (m := _IMPORTED.match(line))}


def top_level(modules: set[str]) -> set[str]:
    return {module.split(".")[0] for module in modules}


@pytest.mark.parametrize("args", [("--help",), ("sync", "--help"), ("dead-letter", "--help")])
def test_help_imports_none_of_the_heavy_libraries(args: tuple[str, ...], tmp_path: Path) -> None:
    modules = imported_modules(*args, cwd=tmp_path)
    assert "memora_cdn.cli" in modules  # the importtime lines were read at all
    assert top_level(modules) & set(HEAVY) == set()
    assert "sqlalchemy" not in top_level(modules)


def test_status_on_the_embedded_default_imports_none_of_the_libraries_it_does_not_use(
    tmp_path: Path,
) -> None:
    imported_modules("init", cwd=tmp_path)
    modules = top_level(imported_modules("status", cwd=tmp_path))
    assert "sqlalchemy" in modules  # it did read the state tables
    assert modules & {*HEAVY, "httpx"} == set()
