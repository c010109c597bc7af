"""`memora-cdn serve` refuses to expose an open admin API, and `demo --serve` serves the demo
it publishes (SPEC §9)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clirun import invoke


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_serve_without_an_admin_token_refuses_any_host_but_loopback(demo: Path, host: str) -> None:
    code, stdout, stderr = invoke("serve", "--host", host, "--port", "1")
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"error: refusing to serve on {host}: admin_token is not set, so the admin API would "
        "be open to anyone who can reach it; set admin_token, or serve on 127.0.0.1\n"
    )


def test_demo_serve_publishes_then_serves_until_sigterm_and_exits_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "memora_cdn", "demo", "--serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:  # the publish's report, then the URL once it is bound
            lines.append(line)
            if line.startswith("Serving on "):
                break
        announced = lines[-1]
        match = re.fullmatch(
            r"Serving on (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C stops it\)\n", announced
        )
        assert match is not None, "".join(lines)
        url, port = match.group(1), int(match.group(2))
        assert any(line.startswith("Uploaded ") for line in lines)
        assert httpx.get(f"{url}healthz", timeout=10).json() == {"status": "ok"}
        plans = httpx.get(f"{url}api/plans", timeout=10).json()["plans"]
        assert {p["plan_id"] for p in plans if p["files"]} == {
            "PLAN-G10-LIT",
            "PLAN-G10-SCI",
            "PLAN-G12-SCI",
        }
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stdout.endswith("Stopped.\n")
    assert "Traceback" not in stderr
    assert "Application shutdown complete" in stderr
    # Every database connection was closed (SQLite removes its WAL with the last one) and
    # the port is free again.
    assert not (tmp_path / "memora.db-wal").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
