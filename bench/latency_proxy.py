"""A TCP proxy on the loopback that delays every byte a client sends by a fixed time.

    python bench/latency_proxy.py --upstream PORT [--delay-ms 30]

prints the port it listens on, then forwards to 127.0.0.1:PORT until killed. Bytes from the
client are held for the delay and sent in order (a delay line, so a request and its body are
late by the delay once, not per chunk); answers come back at once. asyncio, one process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket


async def _delayed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Forward what `reader` receives `delay` seconds after it arrives, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def feed() -> None:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
        queue.put_nowait((0.0, b""))

    feeding = asyncio.create_task(feed())
    try:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
    finally:
        feeding.cancel()
        writer.close()


async def _direct(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def _serve(upstream: int, delay: float) -> None:
    async def connection(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream)
        for w in (client_w, server_w):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(ConnectionError):
            await asyncio.gather(_delayed(client_r, server_w, delay), _direct(server_r, client_w))

    server = await asyncio.start_server(connection, "127.0.0.1", 0, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="A latency-adding TCP proxy to a local port.")
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=30.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.upstream, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
