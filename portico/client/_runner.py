"""A coalescing sync runner, like kube-proxy's BoundedFrequencyRunner.

`run()` never blocks and never queues more than one sync: any number of calls
while a sync is pending fold into it. Syncs start at most once per
`min_interval` (measured start to start, so a burst of events a few ms apart is
one sync) and at least once per `max_interval` (a periodic resync). A failed
sync is retried after a second; a sync that returns True (it is waiting for
something, e.g. a namespace still being emptied) is run again soon.
`retry_after(s)` asks for a sync `s` seconds from now. The clock is injectable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("portico.runner")


class CoalescingRunner:
    def __init__(self, name: str, sync: Callable[[], Awaitable[bool | None]],
                 min_interval: float, max_interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._sync = sync
        self._min = min_interval
        self._max = max_interval
        self._clock = clock
        self._wake = asyncio.Event()
        self._last = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []

    def run(self) -> None:
        """Ask for a sync soon; never blocks, never queues more than one."""
        self._wake.set()

    def retry_after(self, seconds: float) -> None:
        self._timers = [t for t in self._timers if not t.cancelled()]
        self._timers.append(asyncio.get_running_loop().call_later(seconds, self._wake.set))

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._max)
            delay = self._last + self._min - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self._wake.clear()
            self._last = self._clock()
            try:
                if await self._sync():
                    self.retry_after(max(self._min * 4, 0.05))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed sync is retried, never fatal
                log.exception("%s: sync failed; retrying", self.name)
                self.retry_after(1.0)
