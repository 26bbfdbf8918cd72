"""Open many TLS connections that send half a request header, and time when the server drops them.

Run inside a test's sandbox: `python slow_clients.py HOST PORT COUNT DEADLINE`.
Prints `ready` once every connection is open (or was refused), then one JSON line
when all are closed or DEADLINE seconds have passed:
`{"opened": n, "closed_after": [seconds, ...], "still_open": n}`. Exits when done,
closing whatever is still open, so it never outlives its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import sys
import time

HALF_HEADER = b"GET /api HTTP/1.1\r\nHost: kubernetes\r\nUser-Agent: slow"


async def _one(host: str, port: int, tls: ssl.SSLContext, opened: list[float],
               closed: list[float], ready: asyncio.Event, total: int) -> None:
    """One connection: open, half a header, then wait for the server to close it."""
    start = time.monotonic()
    writer = None
    with contextlib.suppress(OSError):
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        writer.write(HALF_HEADER)
        await writer.drain()
    opened.append(start)
    if len(opened) == total:
        ready.set()
    if writer is not None:
        with contextlib.suppress(OSError):
            await reader.read()
        writer.close()
    closed.append(time.monotonic() - start)


async def main(host: str, port: int, count: int, deadline: float) -> None:
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    opened: list[float] = []
    closed: list[float] = []
    ready = asyncio.Event()
    tasks = [asyncio.create_task(_one(host, port, tls, opened, closed, ready, count))
             for _ in range(count)]
    await asyncio.wait_for(ready.wait(), deadline)
    print("ready", flush=True)
    await asyncio.wait(tasks, timeout=deadline)
    still_open = sum(1 for task in tasks if not task.done())
    for task in tasks:
        task.cancel()
    print(json.dumps({"opened": len(opened), "closed_after": sorted(closed),
                      "still_open": still_open}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
