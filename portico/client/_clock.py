"""The clock a component waits on: `now()`, `await sleep(s)` and `call_later(s, fn)`.

Components that wait (the runner, the queue, informers' retries and tombstones)
take a `Clock` instead of calling `time.monotonic` and asyncio directly, so a
test can hand them `portico.testing.clock.FakeClock`, whose time is also its
event loop's: sleeping and timers then run on virtual time, deterministically
and at once. `MonotonicClock` is the real one: `time.monotonic` (asyncio's own
time base) and the running event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None:
        ...

    def call_later(self, seconds: float, callback: Callable[..., object],
                   *args: object) -> Timer:
        """Run `callback(*args)` after `seconds`; cancel the timer to stop it."""
        ...


class MonotonicClock:
    """Real time: `time.monotonic` and the running event loop."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[..., object],
                   *args: object) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback, *args)


REAL_CLOCK: Clock = MonotonicClock()
