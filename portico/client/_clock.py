"""The clock the client layer's timers read and sleep on, so tests can drive time.

`Clock` is what the runner and the informer need: the time (`now`), a sleep, and a
callback after a delay. `MonotonicClock` is the real one (the event loop's
monotonic time); `portico.testing` has a fake that only moves when told to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer: ...


class MonotonicClock:
    """Real time: `time.monotonic`, `asyncio.sleep` and the running loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


REAL_CLOCK: Clock = MonotonicClock()
