"""Ctrl-C and SIGTERM during `sync` (SPEC §8): the plan in hand goes back to the queue, its
log row Failed "interrupted", exit 130; the next `sync` builds it. Real processes, real signals.

The build is held in the middle deterministically by the fake Cloudflare API, which does not
answer the plan's purge until the test lets it go.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clirun import invoke
from fakes.cloudflare import FakeCloudflare

PLAN = "PLAN-G10-SCI"


@pytest.fixture
def purging_demo(
    demo: Path, monkeypatch: pytest.MonkeyPatch, cloudflare: FakeCloudflare
) -> FakeCloudflare:
    """The demo published (in the working folder), with purges going to the fake Cloudflare API."""
    for name, value in {
        "MEMORA_CDN_CDN_BASE_URL": "https://cdn.example.test",
        "MEMORA_CDN_CLOUDFLARE_ZONE_ID": cloudflare.zone_id,
        "MEMORA_CDN_CLOUDFLARE_API_TOKEN": cloudflare.token,
        "MEMORA_CDN_CLOUDFLARE_API_BASE": cloudflare.api_base,
    }.items():
        monkeypatch.setenv(name, value)
    return cloudflare


def _status() -> dict[str, object]:
    code, out, _ = invoke("status", "--json")
    assert code == 0
    status: dict[str, object] = json.loads(out)
    return status


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _interrupted_sync(
    cloudflare: FakeCloudflare, plans: list[str], signum: signal.Signals
) -> tuple[int, str, str]:
    """Rename the plans and queue them; run `sync` until each build waits in its purge (one
    per build process), then send `signum`: the exit status, stdout and stderr."""
    engine = sa.create_engine("sqlite:///memora.db")
    with engine.begin() as conn:
        for plan in plans:
            conn.execute(
                sa.text("UPDATE `tabMemora Academic Plan` SET title = 'Renamed' WHERE name = :p"),
                {"p": plan},
            )
    engine.dispose()
    for plan in plans:
        assert invoke("notify", "Memora Academic Plan", plan)[1] == f"Queued: {plan}\n"
    cloudflare.hang_next(len(plans), seconds=120)  # each build waits in its purge
    process = subprocess.Popen(
        [sys.executable, "-m", "memora_cdn", "sync"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: len(cloudflare.calls) == len(plans), "the builds' purge calls")
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_sync_puts_the_plan_back_and_the_next_sync_builds_it(
    purging_demo: FakeCloudflare, signum: signal.Signals
) -> None:
    cloudflare = purging_demo
    returncode, out, err = _interrupted_sync(cloudflare, [PLAN], signum)
    assert (returncode, out) == (130, "")
    assert err == f"error: interrupted: {PLAN} was put back in the queue\n"
    status = _status()
    assert status["queue"] == {
        "backend": "sql",
        "pending": 1,
        "processing": 0,
        "retrying": 0,
        "dead_letter": 0,
    }
    latest = status["recent_syncs"][0]  # type: ignore[index]
    assert (latest["plan_id"], latest["status"], latest["error_message"]) == (
        PLAN,
        "Failed",
        "interrupted",
    )
    code, out, err = invoke("sync")  # the fake answers normally again
    assert code == 0, err
    assert PLAN in out
    assert "Nothing pending" not in out
    latest = _status()["recent_syncs"][0]  # type: ignore[index]
    assert (latest["plan_id"], latest["status"]) == (PLAN, "Success")
    assert len(cloudflare.purged) > 0  # the purge the interrupt cut short was done


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_sync_building_two_plans_at_once_puts_both_back(
    purging_demo: FakeCloudflare, signum: signal.Signals
) -> None:
    cloudflare = purging_demo
    plans = [PLAN, "PLAN-G10-LIT"]
    returncode, out, err = _interrupted_sync(cloudflare, plans, signum)
    assert (returncode, out) == (130, "")
    assert err == f"error: interrupted: {', '.join(sorted(plans))} were put back in the queue\n"
    status = _status()
    queue = status["queue"]
    assert (queue["pending"], queue["processing"], queue["retrying"]) == (2, 0, 0)  # type: ignore[index]
    latest = {
        entry["plan_id"]: (entry["status"], entry["error_message"])
        for entry in status["recent_syncs"][:2]  # type: ignore[index]
    }
    assert latest == dict.fromkeys(plans, ("Failed", "interrupted"))
    code, out, err = invoke("sync")
    assert code == 0, err
    latest = {e["plan_id"]: e["status"] for e in _status()["recent_syncs"][:2]}  # type: ignore[index]
    assert latest == dict.fromkeys(plans, "Success")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


def test_ctrl_c_while_connecting_at_start_up_prints_one_line_and_no_traceback(
    tmp_path: Path, no_settings_env: None, silent_server: int
) -> None:
    environ = dict(os.environ, MEMORA_CDN_DATABASE_URL=f"mysql://root@127.0.0.1:{silent_server}/x")
    process = subprocess.Popen(
        [sys.executable, "-m", "memora_cdn", "sync"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=environ,
    )
    try:
        # Started once it has imported everything and is waiting for the server's greeting.
        _wait_for(lambda: _waiting_on_socket(process.pid), "the connection attempt", 30)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out, err) == (130, "", "error: interrupted\n")


def _waiting_on_socket(pid: int) -> bool:
    """The process has a TCP connection open (it is past its imports, in the connect)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd).startswith("socket:") for fd in fds.iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False
