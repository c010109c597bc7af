#!/usr/bin/env python3
"""Webhook throughput of `memora-cdn serve` on the embedded default (SQL queue on SQLite).

Seeds and publishes the demo in a scratch folder, starts `memora-cdn serve` there with a
`webhook_secret`, then posts signed Frappe webhook events (lesson, stage, topic and unit
edits with their fields, spread over many names) from `--concurrency` connections for
`--duration` seconds, and reports accepted events/s, p50/p99 latency and rejections. Then it
checks that nothing was lost: every plan a 202 named, and every plan the events affect, is
in the queue, and the state counted every accepted call.

    .venv/bin/python bench/webhook_bench.py [--duration 20] [--concurrency 32] [--profile]

`--profile` runs the server under cProfile and prints its top functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from memora_cdn.app import running
from memora_cdn.core.events import Action, ChangeEvent, parse_doctype
from memora_cdn.http.webhook import SIGNATURE_HEADER, signature
from memora_cdn.settings import Settings
from memora_cdn.state.schema import export_queue
from memora_cdn.sync.dependencies import affected_plans

SECRET = "bench-webhook-secret"
EDITED = {  # doctype: how many of its documents get edits
    "Memora Lesson": 300,
    "Memora Lesson Stage": 300,
    "Memora Topic": 40,
    "Memora Unit": 20,
}
EVENTS = ("on_update", "on_update", "on_update", "on_change")


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    latencies: list[float] = field(default_factory=list)
    plans: set[str] = field(default_factory=set)
    sent: set[int] = field(default_factory=set)
    """Which bodies were posted (by index)."""


def demo_folder(folder: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "memora_cdn", "demo"],
        cwd=folder,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def payloads(folder: Path, seed: int) -> list[tuple[str, bytes]]:
    """Signed bodies as Frappe sends them: the document's fields, with its doctype."""
    engine = sa.create_engine(f"sqlite:///{folder / 'memora.db'}")
    rng = random.Random(seed)
    found: list[tuple[str, bytes]] = []
    with engine.connect() as conn:
        for doctype, count in EDITED.items():
            rows = conn.execute(sa.text(f"SELECT * FROM `tab{doctype}`")).mappings().all()
            for row in rng.sample(list(rows), min(count, len(rows))):
                fields = {k: v for k, v in row.items() if isinstance(v, str | int | float)}
                body = {**fields, "doctype": doctype, "modified": "2026-12-02 10:00:00.000000"}
                found.append((rng.choice(EVENTS), json.dumps(body).encode()))
    engine.dispose()
    rng.shuffle(found)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Served:
    url: str
    pid: int


@contextmanager
def server(folder: Path, env: dict[str, str], profile: Path | None) -> Iterator[Served]:
    """`memora-cdn serve` on a free port."""
    runner = ["-m", "cProfile", "-o", str(profile)] if profile else []
    command = [sys.executable, *runner, "-m", "memora_cdn", "serve", "--port", "0"]
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            match = re.match(rb"Serving on (\S+)", raw)
            if match:
                url = match.group(1).decode().rstrip("/")
                break
        else:
            raise SystemExit(f"serve did not start: {(folder / 'serve.log').read_text()}")
        # Keep reading its stdout (the access log) so that a full pipe never blocks it.
        drain = subprocess.Popen(["cat"], stdin=process.stdout, stdout=subprocess.DEVNULL)
        yield Served(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
    drain.wait(timeout=10)
    if process.returncode != 0:
        raise SystemExit(f"serve exited {process.returncode}: see {folder / 'serve.log'}")


def request_bytes(host: str, event: str, body: bytes) -> bytes:
    """One signed webhook POST, as HTTP/1.1 bytes on a kept-alive connection."""
    head = (
        f"POST /hooks/frappe?event={event} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/json\r\n"
        f"{SIGNATURE_HEADER}: {signature(SECRET, body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def post_events(
    url: str, bodies: list[tuple[str, bytes]], duration: float, concurrency: int
) -> Tally:
    """Posts from `concurrency` kept-alive connections, one request in flight on each. A
    plain HTTP/1.1 client on asyncio streams: a full client library would take more of the
    machine's two cores than the server."""
    tally = Tally()
    deadline = time.perf_counter() + duration
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 80
    requests = [request_bytes(f"{host}:{port}", event, body) for event, body in bodies]

    async def connection(start: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        n = start
        try:
            while time.perf_counter() < deadline:
                index = n % len(requests)
                tally.sent.add(index)
                n += concurrency
                began = time.perf_counter()
                writer.write(requests[index])
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                answer = await reader.readexactly(length)
                tally.latencies.append(time.perf_counter() - began)
                if head.startswith(b"HTTP/1.1 202"):
                    tally.accepted += 1
                    tally.plans.update(json.loads(answer).get("plans", ()))
                else:
                    tally.rejected += 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(connection(i) for i in range(concurrency)))
    return tally


def settings_of(folder: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{folder / 'memora.db'}", store=f"file://{folder}")


def affected(folder: Path, bodies: list[bytes]) -> set[str]:
    """The plans the events affect, resolved here, in the benchmark's process."""
    plans: set[str] = set()
    with running(settings_of(folder)) as app:
        for body in bodies:
            data = json.loads(body)
            change = ChangeEvent(parse_doctype(data["doctype"]), data["name"], Action.UPDATE, data)
            plans |= affected_plans(change, app.intake.graph, app.state)
    return plans


def queued_and_counted(folder: Path) -> tuple[set[str], dict[str, int]]:
    """The plans in the queue, and the webhook calls the state counted."""
    with running(settings_of(folder)) as app, app.state.engine.connect() as conn:
        queued = set(conn.execute(sa.select(export_queue.c.plan_id)).scalars())
        return queued, app.state.webhook_counts()


def print_profile(path: Path, top: int = 25) -> None:
    import pstats

    pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of posting")
    parser.add_argument("--concurrency", type=int, default=32, help="connections at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile the server (cProfile)")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORA_CDN_")}
    env["MEMORA_CDN_WEBHOOK_SECRET"] = SECRET
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as scratch:
        folder = Path(scratch)
        demo_folder(folder, env)
        bodies = payloads(folder, args.seed)
        profile = folder / "serve.prof" if args.profile else None
        with server(folder, env, profile) as served:
            began, cpu = time.perf_counter(), cpu_seconds(served.pid)
            tally = asyncio.run(post_events(served.url, bodies, args.duration, args.concurrency))
            elapsed = time.perf_counter() - began
            server_cpu = cpu_seconds(served.pid) - cpu
        expected = affected(folder, [bodies[i][1] for i in sorted(tally.sent)])
        queued, counted = queued_and_counted(folder)
        if profile is not None:
            print_profile(profile)

    lost = sorted((tally.plans | expected) - queued)
    latencies = sorted(tally.latencies)
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0
    print(f"machine: {os.cpu_count()} cores; {args.concurrency} connections, {elapsed:.1f} s")
    print(f"accepted: {tally.accepted} events, {tally.accepted / elapsed:.0f} events/s")
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"rejected: {tally.rejected}")
    per_event = server_cpu / max(tally.accepted, 1)
    print(
        f"server CPU: {server_cpu:.1f} s, {per_event * 1000:.2f} ms per event "
        f"(≈ {1 / per_event if per_event else 0:.0f} events/s per core it has to itself); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"counted accepted: {counted.get('accepted', 0)}")
    print(f"queued plans: {len(queued)} ({', '.join(sorted(queued))})")
    print(f"lost: {len(lost)} plans {lost}".rstrip())
    ok = not lost and counted.get("accepted", 0) == tally.accepted and tally.accepted > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
