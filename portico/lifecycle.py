"""A component process's life: start, run until SIGTERM/SIGINT, stop - even mid-start.

`run_until_signalled(start, stop)` installs the signal handlers first, then runs
`start()` as a task raced against the signal: a SIGTERM that arrives while the
component still waits for the API server (a failed `portico up` stops its
children seconds after forking them) cancels the start instead of being noted
and ignored until the start's own two-minute timeout.  `stop()` always runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable


async def run_until_signalled(start: Callable[[], Awaitable[None]],
                              stop: Callable[[], Awaitable[None]],
                              on_started: Callable[[], None] | None = None) -> int:
    """Run `start()`, then wait for SIGTERM/SIGINT; `stop()` in every case."""
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled.set)
    starting = asyncio.ensure_future(start())
    waiting = asyncio.ensure_future(signalled.wait())
    try:
        await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        starting.result()  # a failed start raises here
        if on_started is not None:
            on_started()
        await waiting
    finally:
        waiting.cancel()
        await stop()
    return 0
